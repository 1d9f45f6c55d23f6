package web

import (
	"net/http"

	"github.com/bootd/bootd/boot"
)

// imagesData is the images page's data.
type imagesData struct {
	Images []imageRow
}

type imageRow struct {
	*boot.Image
	Nodes int // enrolled nodes that boot it
}

// images answers GET /images: the catalog, with how many nodes use each image.
//
// TODO(volumes): each golden snapshot's state (exists, protected, size) once
// boot.Service reports it.
func (d *dashboard) images(w http.ResponseWriter, r *http.Request) error {
	imgs, err := d.svc.Images(r.Context())
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
	data := imagesData{}
	for _, img := range imgs {
		data.Images = append(data.Images, imageRow{Image: img, Nodes: uses[img.Name]})
	}
	d.render(w, r, http.StatusOK, "images", page{Title: "Images", Nav: "images", Data: data})
	return nil
}
