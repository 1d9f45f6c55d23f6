package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/go-chi/chi/v5"
)

// warnNoVolumes is the warning of an enrollment without a volume backend.
const warnNoVolumes = "no volume backend: node enrolled without a volume"

// routesAPI adds the JSON API; r is mounted at /api/v1.
func (s *server) routesAPI(r chi.Router) {
	r.Use(noStore, s.requireToken)
	get, post := http.MethodGet, http.MethodPost
	s.act(r, get, "/nodes", access.ActionView, s.listNodes)
	s.act(r, post, "/nodes", access.ActionEnroll, s.enroll)
	s.act(r, get, "/nodes/{mac}", access.ActionView, s.getNode)
	s.act(r, http.MethodDelete, "/nodes/{mac}", access.ActionForget, s.forget)
	s.act(r, post, "/nodes/{mac}/assign", access.ActionAssign, s.assign)
	s.act(r, post, "/nodes/{mac}/replace", access.ActionReplace, s.replace)
	s.act(r, post, "/nodes/{mac}/reimage", access.ActionReimage, s.reimage)
	s.act(r, http.MethodPut, "/nodes/{mac}/netboot", access.ActionNetboot, s.netboot)
	s.act(r, get, "/nodes/{mac}/timeline", access.ActionView, s.timeline)
	s.act(r, get, "/nodes/{mac}/explain", access.ActionExplain, s.explain)
	s.act(r, get, "/discovered", access.ActionView, s.discovered)
	s.act(r, get, "/images", access.ActionView, s.listImages)
	s.act(r, get, "/images/{name}", access.ActionView, s.getImage)
	s.act(r, get, "/status", access.ActionView, s.status)
	s.routesVolumes(r)
	s.routesUsers(r)
	s.routesDiscover(r)
	s.routesPower(r)
	if s.store != nil {
		s.act(r, get, "/backup", access.ActionBackup, s.backup)
	}
}

// apiFunc is a handler that leaves its failures to fail.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts an apiFunc to http.HandlerFunc.
func (s *server) handle(fn apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

// noStore keeps API answers out of caches: they change and need a token.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// Bodies of the API's answers.
type (
	nodeBody struct {
		Node *boot.Node `json:"node"`
	}
	// armedBody is netboot once's answer: the node, and what its BMC was
	// told (empty when it has no power driver).
	armedBody struct {
		Node *boot.Node `json:"node"`
		BMC  string     `json:"bmc,omitempty"`
	}
	enrolledBody struct {
		Node     *boot.Node `json:"node"`
		Warnings []string   `json:"warnings"`
	}
	nodesBody struct {
		Nodes []*boot.Node `json:"nodes"`
	}
	// discoveredBody is nodesBody with the bound on discovered machines:
	// the cap, the rate, and how many were forgotten or refused.
	discoveredBody struct {
		Nodes []*boot.Node        `json:"nodes"`
		Bound boot.DiscoveryStats `json:"bound"`
	}
	timelineBody struct {
		MAC   boot.MAC    `json:"mac"`
		Boots []boot.Boot `json:"boots"`
	}
	imageBody struct {
		Image *boot.Image `json:"image"`
	}
	imagesBody struct {
		Images []*boot.Image `json:"images"`
	}
)

// listNodes answers GET /nodes[?state=enrolled,up].
func (s *server) listNodes(w http.ResponseWriter, r *http.Request) error {
	states, err := parseStates(r.URL.Query()["state"])
	if err != nil {
		return err
	}
	return s.writeNodes(w, r, states...)
}

// discovered answers GET /discovered: the machines seen but not enrolled,
// and what their bound has done (DiscoveryStats).
func (s *server) discovered(w http.ResponseWriter, r *http.Request) error {
	nodes, err := s.nodes.Nodes(r.Context(), boot.StateDiscovered)
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []*boot.Node{}
	}
	s.writeJSON(w, r, http.StatusOK, discoveredBody{Nodes: redactAll(nodes), Bound: s.nodes.DiscoveryStats()})
	return nil
}

func (s *server) writeNodes(w http.ResponseWriter, r *http.Request, states ...boot.State) error {
	nodes, err := s.nodes.Nodes(r.Context(), states...)
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []*boot.Node{}
	}
	s.writeJSON(w, r, http.StatusOK, nodesBody{Nodes: redactAll(nodes)})
	return nil
}

// enrollRequest is the body of POST /nodes.
type enrollRequest struct {
	MAC      string `json:"mac"`
	Image    string `json:"image"`
	Hostname string `json:"hostname"`
	// Size is a volume size like "20G" (boot.ParseSize); empty means the image's.
	Size string `json:"size"`
}

// enroll answers POST /nodes.
func (s *server) enroll(w http.ResponseWriter, r *http.Request) error {
	var req enrollRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.MAC == "" || req.Image == "" {
		return badRequest(`"mac" and "image" are required`)
	}
	mac, err := boot.ParseMAC(req.MAC)
	if err != nil {
		return err
	}
	auditMAC(r, mac)
	er := boot.EnrollRequest{MAC: mac, Image: req.Image, Hostname: req.Hostname}
	if req.Size != "" {
		if er.SizeBytes, err = boot.ParseSize(req.Size); err != nil {
			return err
		}
	}
	n, err := s.enrollment.Enroll(r.Context(), er)
	if err != nil {
		return namingImage(req.Image, err)
	}
	body := enrolledBody{Node: redact(n), Warnings: []string{}}
	if !s.volumes.HasVolumes() {
		body.Warnings = append(body.Warnings, warnNoVolumes)
	}
	w.Header().Set("Location", "/api/v1/nodes/"+n.MAC.String())
	s.writeJSON(w, r, http.StatusCreated, body)
	return nil
}

// getNode answers GET /nodes/{mac}.
func (s *server) getNode(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	n, err := s.nodes.Node(r.Context(), mac)
	return s.writeNode(w, r, n, err)
}

// forget answers DELETE /nodes/{mac}.
func (s *server) forget(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	if err := s.enrollment.Forget(r.Context(), mac); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// assign answers POST /nodes/{mac}/assign {"image":"..."}.
func (s *server) assign(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	var req struct {
		Image string `json:"image"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Image == "" {
		return badRequest(`"image" is required`)
	}
	n, err := s.enrollment.Assign(r.Context(), mac, req.Image)
	return s.writeNode(w, r, n, namingImage(req.Image, err))
}

// replace answers POST /nodes/{mac}/replace {"new": "<mac>"}: the node
// moves to the machine new; the answer is the node under its new MAC.
func (s *server) replace(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	var req struct {
		New string `json:"new"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	to, err := boot.ParseMAC(req.New)
	if err != nil {
		return badRequest(`"new": %v`, err)
	}
	auditTarget(r, "to "+to.String())
	n, err := s.enrollment.Replace(r.Context(), mac, to)
	return s.writeNode(w, r, n, err)
}

// reimage answers POST /nodes/{mac}/reimage (body: see reimageRequest).
func (s *server) reimage(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	return s.reimageWith(w, r, mac)
}

// netboot answers PUT /nodes/{mac}/netboot {"enabled":true|false} and
// {"enabled":true,"once":true}: netboot on, and the node armed for one boot
// (its key may be released to that boot under a key_release rule with
// "armed").
func (s *server) netboot(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	var req struct {
		Enabled *bool `json:"enabled"`
		Once    bool  `json:"once"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return badRequest(`"enabled" is required: true or false`)
	}
	if req.Once {
		if !*req.Enabled {
			return badRequest(`"once" arms the next boot: it needs "enabled": true`)
		}
		if err := escalate(r, access.ActionArm); err != nil {
			return err
		}
		n, err := s.enrollment.Arm(r.Context(), mac, 0)
		if err != nil {
			return err
		}
		body := armedBody{Node: redact(n), BMC: s.bmcNetbootOnce(r.Context(), mac, userName(r))}
		s.writeJSON(w, r, http.StatusOK, body)
		return nil
	}
	n, err := s.enrollment.SetNetboot(r.Context(), mac, *req.Enabled)
	return s.writeNode(w, r, n, err)
}

// writeNode answers with the node a Service method returned, or returns its error.
func (s *server) writeNode(w http.ResponseWriter, r *http.Request, n *boot.Node, err error) error {
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, nodeBody{Node: redact(n)})
	return nil
}

// timeline answers GET /nodes/{mac}/timeline.
func (s *server) timeline(w http.ResponseWriter, r *http.Request) error {
	mac, err := pathMAC(r)
	if err != nil {
		return err
	}
	boots, err := s.nodes.Timeline(r.Context(), mac)
	if err != nil {
		return err
	}
	if boots == nil {
		boots = []boot.Boot{}
	}
	for _, b := range boots {
		for i := range b.Events {
			b.Events[i].Detail = b.Events[i].Text() // a fetch, rendered for clients that read text
		}
	}
	s.writeJSON(w, r, http.StatusOK, timelineBody{MAC: mac, Boots: boots})
	return nil
}

// listImages answers GET /images.
func (s *server) listImages(w http.ResponseWriter, r *http.Request) error {
	imgs, err := s.nodes.Images(r.Context())
	if err != nil {
		return err
	}
	if imgs == nil {
		imgs = []*boot.Image{}
	}
	s.writeJSON(w, r, http.StatusOK, imagesBody{Images: imgs})
	return nil
}

// getImage answers GET /images/{name}; an unknown image is a 404 here.
func (s *server) getImage(w http.ResponseWriter, r *http.Request) error {
	name := pathParam(r, "name")
	img, err := s.nodes.Image(r.Context(), name)
	if errors.Is(err, boot.ErrUnknownImage) {
		return missingError{namingImage(name, err)}
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, imageBody{Image: img})
	return nil
}

// pathParam returns a route parameter, percent-decoded (chi matches the
// raw path when a client escapes characters, so it may come escaped).
func pathParam(r *http.Request, key string) string {
	raw := chi.URLParam(r, key)
	if v, err := url.PathUnescape(raw); err == nil {
		return v
	}
	return raw
}

// pathMAC reads the {mac} route parameter in any spelling boot.ParseMAC accepts.
func pathMAC(r *http.Request) (boot.MAC, error) {
	return boot.ParseMAC(pathParam(r, "mac"))
}

// parseStates reads the state filter of GET /nodes: states separated by
// commas, in one or more state parameters.
func parseStates(params []string) ([]boot.State, error) {
	var states []boot.State
	for _, p := range params {
		for f := range strings.SplitSeq(p, ",") {
			st := boot.State(strings.TrimSpace(f))
			switch st {
			case "":
			case boot.StateDiscovered, boot.StateEnrolled, boot.StateBooting,
				boot.StateUp, boot.StateFailed, boot.StateRetired:
				states = append(states, st)
			default:
				return nil, badRequest("unknown state %q: want discovered, enrolled, booting, up, failed or retired, separated by commas", st)
			}
		}
	}
	return states, nil
}
