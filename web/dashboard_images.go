package web

import (
	"errors"
	"net/http"
	"net/url"
	"sync"

	"github.com/bootd/bootd/boot"
)

// imagesData is the images page's data.
type imagesData struct {
	Images     []imageRow
	HasVolumes bool
	Errors     map[string]string // messages by image name (a refused protect)
}

type imageRow struct {
	*boot.Image
	Nodes       int         // enrolled nodes that boot it
	GoldenState goldenState // "" without a volume backend
}

// goldenState is what the images page says of a golden snapshot.
type goldenState string

// The states of a golden snapshot, as the volume backend's check finds it.
const (
	goldenProtected   goldenState = "protected"   // exists and is protected: nodes can be cloned from it
	goldenUnprotected goldenState = "unprotected" // exists, but clones of it cannot be made yet
	goldenMissing     goldenState = "missing"     // the image or its snapshot is not in the cluster
	goldenUnknown     goldenState = "unknown"     // the check failed; the log says why
)

// Words says a state with a symbol, so that it reads without its colour.
func (g goldenState) Words() string {
	switch g {
	case goldenProtected:
		return "✓ protected"
	case goldenUnprotected:
		return "! not protected: no clones until it is"
	case goldenMissing:
		return "✕ missing from the cluster"
	case goldenUnknown:
		return "? not checked: the cluster did not answer (see the log)"
	default:
		return ""
	}
}

// checkers bounds the golden checks the images page runs at once.
const checkers = 8

// images answers GET /images: the catalog, with each golden snapshot's
// state and how many nodes use each image.
func (d *dashboard) images(w http.ResponseWriter, r *http.Request) error {
	return d.imagesWith(w, r, http.StatusOK, nil)
}

// imagesWith renders the images page with code and messages by image.
func (d *dashboard) imagesWith(w http.ResponseWriter, r *http.Request, code int, errs map[string]string) error {
	imgs, err := d.nodes.Images(r.Context())
	if err != nil {
		return err
	}
	all, err := d.index.snapshot(r.Context())
	if err != nil {
		return err
	}
	uses := map[string]int{}
	for _, n := range all {
		if n.Enrolled() {
			uses[n.Image]++
		}
	}
	data := imagesData{HasVolumes: d.volumes.HasVolumes(), Errors: errs}
	p := page{Title: "Images", Nav: "images", Data: &data}
	for _, img := range imgs {
		data.Images = append(data.Images, imageRow{Image: img, Nodes: uses[img.Name]})
		if q := r.URL.Query(); code == http.StatusOK && q.Get("done") == "protected" && q.Get("image") == img.Name {
			p.Done = "Protected the golden snapshot of " + img.Name + ": machines can be cloned from it."
		}
	}
	if data.HasVolumes {
		d.checkGoldens(r, data.Images)
	}
	d.render(w, r, code, "images", p)
	return nil
}

// checkGoldens sets each row's golden state, checking a few at a time.
func (d *dashboard) checkGoldens(r *http.Request, rows []imageRow) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, checkers)
	for i := range rows {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := d.volumes.CheckGolden(r.Context(), rows[i].Name, false)
			switch {
			case err == nil:
				rows[i].GoldenState = goldenProtected
			case errors.Is(err, boot.ErrUnprotected):
				rows[i].GoldenState = goldenUnprotected
			case errors.Is(err, boot.ErrNotFound):
				rows[i].GoldenState = goldenMissing
			default:
				rows[i].GoldenState = goldenUnknown
				d.log.Error("dashboard could not check a golden snapshot", "image", rows[i].Name, "err", err)
			}
		})
	}
	wg.Wait()
}

// protect answers POST /images/{name}/protect: it protects the image's
// golden snapshot, so that machines can be cloned from it.
func (d *dashboard) protect(w http.ResponseWriter, r *http.Request) error {
	name := pathParam(r, "name")
	_, err := d.volumes.CheckGolden(r.Context(), name, true)
	if errors.Is(err, boot.ErrUnknownImage) {
		return missingError{namingImage(name, err)}
	}
	if err != nil {
		code, msg := status(err)
		if code == http.StatusInternalServerError {
			return err
		}
		return d.imagesWith(w, r, code, map[string]string{name: msg})
	}
	return seeOther(w, r, "/images?done=protected&image="+url.QueryEscape(name))
}
