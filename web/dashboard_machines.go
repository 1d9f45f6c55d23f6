package web

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bootd/bootd/boot"
)

// The machines page: the enrolled (and retired) machines in a table with
// filter, sort and pages; below it the discovered machines, each with an
// enroll form, and a form to enroll a machine by its MAC.

const (
	// pageSize is how many machines one page of the table shows.
	pageSize = 100
	// maxDiscovered is how many discovered machines the page lists.
	maxDiscovered = 100
)

// columns are the machines table's columns, in order: key, heading, and how
// two nodes compare on it.
var columns = []struct {
	key, label string
	cmp        func(a, b *boot.Node) int
}{
	{"mac", "MAC", func(a, b *boot.Node) int { return compareMAC(a, b) }},
	{"hostname", "Hostname", func(a, b *boot.Node) int { return strings.Compare(a.Hostname, b.Hostname) }},
	{"image", "Image", func(a, b *boot.Node) int { return strings.Compare(a.Image, b.Image) }},
	{"state", "State", func(a, b *boot.Node) int { return cmp.Compare(stateRank[a.State], stateRank[b.State]) }},
	{"stage", "Last stage", func(a, b *boot.Node) int { return a.LastStageAt.Compare(b.LastStageAt) }},
	{"addr", "Address", func(a, b *boot.Node) int { return strings.Compare(a.Addr, b.Addr) }},
	{"arch", "Firmware", func(a, b *boot.Node) int { return strings.Compare(a.Arch, b.Arch) }},
}

// stateRank orders states by how much they want an operator's eye.
var stateRank = map[boot.State]int{boot.StateFailed: 0, boot.StateBooting: 1, boot.StateEnrolled: 2,
	boot.StateUp: 3, boot.StateDiscovered: 4, boot.StateRetired: 5}

// listStates are the states the table's filter offers (discovered machines have their own list).
var listStates = []boot.State{boot.StateFailed, boot.StateBooting, boot.StateEnrolled, boot.StateUp, boot.StateRetired}

// listQuery is the table's filter, sort and page, read from the URL.
type listQuery struct {
	Q     string
	State boot.State
	Sort  string
	Desc  bool
	Page  int
}

func readListQuery(v url.Values) listQuery {
	q := listQuery{Q: strings.TrimSpace(v.Get("q")), Sort: "hostname", Desc: v.Get("dir") == "desc", Page: 1}
	if st := boot.State(v.Get("state")); slices.Contains(listStates, st) {
		q.State = st
	}
	for _, c := range columns {
		if c.key == v.Get("sort") {
			q.Sort = c.key
		}
	}
	if p, err := strconv.Atoi(v.Get("page")); err == nil && p > 1 {
		q.Page = p
	}
	return q
}

// url returns the machines page URL for q with changes applied.
func (q listQuery) url(change func(*listQuery)) string {
	change(&q)
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.State != "" {
		v.Set("state", string(q.State))
	}
	v.Set("sort", q.Sort)
	if q.Desc {
		v.Set("dir", "desc")
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	return "/machines?" + v.Encode()
}

// matches reports whether n passes q's filter.
func (q listQuery) matches(n *boot.Node) bool {
	if n.State == boot.StateDiscovered || (q.State != "" && n.State != q.State) {
		return false
	}
	if q.Q == "" {
		return true
	}
	needle := strings.ToLower(q.Q)
	for _, s := range []string{n.MAC.String(), n.Hostname, n.Image, n.Addr, n.Arch, string(n.State)} {
		if strings.Contains(s, needle) {
			return true
		}
	}
	return false
}

// A heading is a column heading: its sort link and ARIA sort state.
type heading struct {
	Label, URL, Sort string
}

// stateCount is one entry of the page's summary.
type stateCount struct {
	State boot.State
	N     int
	URL   string
}

// machinesData is the machines page's data.
type machinesData struct {
	Query           listQuery
	Headings        []heading
	Rows            []*boot.Node
	Matching, Total int
	Page, Pages     int
	PrevURL         string
	NextURL         string
	Counts          []stateCount
	Discovered      []*boot.Node
	DiscoveredTotal int
	Bound           discoveredBound // what the bound on discovered machines did
	Window          *discoverView   // the discover window; nil for none
	Images          []*boot.Image
	Enroll          enrollForm // the form that failed, with its messages
	Fresh           string     // the MAC just enrolled
	// Instances are the bootd instances sharing the store; InstancesFailed
	// says they could not be listed (the page shows the rest).
	Instances       []boot.InstanceStatus
	InstancesFailed bool
}

// machinesPage gathers the machines page for q.
func (d *dashboard) machinesPage(r *http.Request, q listQuery) (*machinesData, error) {
	all, err := d.index.snapshot(r.Context())
	if err != nil {
		return nil, err
	}
	imgs, err := d.nodes.Images(r.Context())
	if err != nil {
		return nil, err
	}
	m := &machinesData{Query: q, Images: imgs, Bound: newDiscoveredBound(d.nodes.DiscoveryStats()),
		Window: d.discoverView()}
	counts := map[boot.State]int{}
	for _, n := range all {
		counts[n.State]++
		switch {
		case n.State == boot.StateDiscovered:
			if len(m.Discovered) < maxDiscovered {
				m.Discovered = append(m.Discovered, n)
			}
			m.DiscoveredTotal++
		case q.matches(n):
			m.Rows = append(m.Rows, n)
		}
	}
	m.Total = len(all) - m.DiscoveredTotal
	for _, st := range listStates {
		m.Counts = append(m.Counts, stateCount{st, counts[st], "/machines?state=" + string(st)})
	}
	m.Counts = append(m.Counts, stateCount{boot.StateDiscovered, m.DiscoveredTotal, "#discovered"})
	m.sortAndPage(q)
	if m.Instances, err = d.nodes.Instances(r.Context()); err != nil {
		d.log.Warn("dashboard: instances not listed", "err", err)
		m.InstancesFailed = true
	}
	return m, nil
}

func (m *machinesData) sortAndPage(q listQuery) {
	for _, c := range columns {
		h := heading{Label: c.label, URL: q.url(func(u *listQuery) { u.Sort, u.Desc, u.Page = c.key, false, 1 }), Sort: "none"}
		if c.key == q.Sort {
			by := c.cmp
			slices.SortFunc(m.Rows, func(a, b *boot.Node) int {
				c := by(a, b)
				if q.Desc {
					c = -c
				}
				return cmp.Or(c, compareMAC(a, b)) // ties in MAC order either way
			})
			h.Sort = map[bool]string{false: "ascending", true: "descending"}[q.Desc]
			h.URL = q.url(func(u *listQuery) { u.Desc, u.Page = !q.Desc, 1 })
		}
		m.Headings = append(m.Headings, h)
	}
	m.Matching = len(m.Rows)
	m.Pages = max(1, (m.Matching+pageSize-1)/pageSize)
	m.Page = min(q.Page, m.Pages)
	m.Rows = m.Rows[(m.Page-1)*pageSize : min(m.Page*pageSize, m.Matching)]
	if m.Page > 1 {
		m.PrevURL = q.url(func(u *listQuery) { u.Page = m.Page - 1 })
	}
	if m.Page < m.Pages {
		m.NextURL = q.url(func(u *listQuery) { u.Page = m.Page + 1 })
	}
}

func compareMAC(a, b *boot.Node) int { return slices.Compare(a.MAC, b.MAC) }

// discoveredBound is the bound on discovered machines as the page words
// it: counts with thousands separators, and when the last was forgotten.
type discoveredBound struct {
	Max, PerMinute        string
	Pruned, Refused       string
	AnyPruned             bool
	AnyRefused            bool
	LastPruned            time.Time
	OnePruned, OneRefused bool // singular words
}

func newDiscoveredBound(st boot.DiscoveryStats) discoveredBound {
	return discoveredBound{Max: thousands(int64(st.Max)), PerMinute: thousands(int64(st.PerMinute)),
		Pruned: thousands(st.Pruned), Refused: thousands(st.Refused), AnyPruned: st.Pruned > 0,
		AnyRefused: st.Refused > 0, LastPruned: st.LastPruned, OnePruned: st.Pruned == 1, OneRefused: st.Refused == 1}
}

// thousands writes n with commas between groups of three digits: 12,345.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// FormFor returns the enroll form of the discovered machine mac: the one
// that was refused, with its messages, or a blank one.
func (m *machinesData) FormFor(mac string) enrollForm {
	if m.Enroll.From == "discovered" && m.Enroll.MAC == mac {
		return m.Enroll
	}
	return enrollForm{}
}

// ManualForm returns the enroll-by-MAC form, as refused or blank.
func (m *machinesData) ManualForm() enrollForm {
	if m.Enroll.From == "" {
		return m.Enroll
	}
	return enrollForm{}
}

// machines answers GET /machines.
func (d *dashboard) machines(w http.ResponseWriter, r *http.Request) error {
	m, err := d.machinesPage(r, readListQuery(r.URL.Query()))
	if err != nil {
		return err
	}
	p := page{Title: "Machines", Nav: "machines", Live: "/events", Data: m}
	if mac, err := boot.ParseMAC(r.URL.Query().Get("mac")); err == nil {
		m.Fresh = mac.String()
		p.Done = doneMessage(r.URL.Query().Get("done"), mac, "")
	}
	switch r.URL.Query().Get("done") {
	case "discover-open":
		p.Done = "The discover window is open: machines nobody enrolled get answers from DHCP and show up below."
	case "discover-closed":
		p.Done = "The discover window is closed."
	}
	d.render(w, r, http.StatusOK, "machines", p)
	return nil
}

// enrollForm is an enroll form as sent, with a message per field that was refused.
type enrollForm struct {
	MAC, Image, Hostname, Size string
	// From is "discovered" when the form is a discovered machine's row,
	// "detail" on a machine's page, "" for the enroll-by-MAC form.
	From   string
	Errors map[string]string
}

// fail notes err against the field it is about, or returns it when it
// belongs to no field (and the page shows it in its error box).
func (f *enrollForm) fail(field string, err error) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	f.Errors[field] = err.Error()
}

// request checks the form's own fields and builds the Service's request.
func (f *enrollForm) request() (boot.EnrollRequest, bool) {
	var req boot.EnrollRequest
	var err error
	if req.MAC, err = boot.ParseMAC(f.MAC); err != nil {
		f.fail("mac", err)
	}
	req.Image, req.Hostname = f.Image, f.Hostname
	if f.Image == "" {
		f.fail("image", errors.New("choose an image"))
	}
	if f.Hostname != "" {
		if err := boot.ValidHostname(f.Hostname); err != nil {
			f.fail("hostname", err)
		}
	}
	if f.Size != "" {
		if req.SizeBytes, err = boot.ParseSize(f.Size); err != nil {
			f.fail("size", err)
		}
	}
	return req, len(f.Errors) == 0
}

// enroll answers POST /machines: enroll a machine with an image.
func (d *dashboard) enroll(w http.ResponseWriter, r *http.Request) error {
	f := enrollForm{MAC: strings.TrimSpace(r.PostForm.Get("mac")), Image: r.PostForm.Get("image"),
		Hostname: strings.TrimSpace(r.PostForm.Get("hostname")), Size: strings.TrimSpace(r.PostForm.Get("size")),
		From: r.PostForm.Get("from")}
	req, ok := f.request()
	auditMAC(r, req.MAC)
	code := http.StatusBadRequest
	if ok {
		n, err := d.enrollment.Enroll(r.Context(), req)
		switch {
		case err == nil:
			return seeOther(w, r, "/machines?done=enrolled&mac="+url.QueryEscape(n.MAC.String()))
		case errors.Is(err, boot.ErrUnknownImage):
			f.fail("image", namingImage(req.Image, err))
		case errors.Is(err, boot.ErrExists):
			f.fail("mac", err)
		case errors.Is(err, boot.ErrInvalid):
			f.fail("hostname", err) // the one field the Service checks that we do not
		default:
			return err // no volume backend answer, store failure: the error page
		}
		code, _ = status(err)
	}
	if f.From == "detail" {
		if mac, err := boot.ParseMAC(f.MAC); err == nil {
			return d.machineWith(w, r, mac, code, func(m *machineData) { m.Enroll = f })
		}
	}
	m, err := d.machinesPage(r, readListQuery(nil))
	if err != nil {
		return err
	}
	m.Enroll = f
	d.render(w, r, code, "machines", page{Title: "Machines", Nav: "machines", Live: "/events",
		Error: "The machine was not enrolled: see the message by the form.", Data: m})
	return nil
}
