package images

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bootd/bootd/boot"
)

var _ boot.Catalog = (*Catalog)(nil)

// A Catalog is a set of images read from a folder. It does not change after
// loading, so its methods are safe for concurrent use. The zero Catalog is
// empty.
type Catalog struct {
	byName map[string]*boot.Image
	sorted []*boot.Image // by name
}

// Load reads every image definition in dir (not its subfolders). Relative
// paths in the definitions are resolved against dir made absolute, and each
// image's Source is its file's absolute path.
//
// Load reports all problems of all files at once, joined with [errors.Join].
// Invalid definitions, and a folder with no definitions, give errors
// wrapping [boot.ErrInvalid]; a folder or file that cannot be read gives the
// error from the file system.
func Load(dir string) (*Catalog, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("image folder: %w", err)
	}
	return load(os.DirFS(abs), ".", location{shown: dir, base: abs})
}

// LoadFS is like [Load] for the folder root of fsys. Relative paths in the
// definitions are resolved against root, so they name files of fsys rather
// than files on disk; definitions read this way usually give absolute
// paths. Each image's Source is its file's path in fsys.
func LoadFS(fsys fs.FS, root string) (*Catalog, error) {
	dir := filepath.FromSlash(root)
	return load(fsys, root, location{shown: dir, base: dir})
}

// location says how to name the files of a folder.
type location struct {
	shown string // the folder as messages name it
	base  string // the folder relative paths resolve against, and Source's folder
}

func load(fsys fs.FS, root string, loc location) (*Catalog, error) {
	names, err := definitionFiles(fsys, root)
	if err != nil {
		return nil, renamePath(err, loc.shown)
	}
	if len(names) == 0 {
		return nil, problem(loc.shown, "", "no image definitions (*.yaml or *.yml files)")
	}
	c := &Catalog{byName: make(map[string]*boot.Image, len(names))}
	from := make(map[string]string, len(names)) // image name → file shown
	var errs []error
	for _, name := range names {
		shown := filepath.Join(loc.shown, name)
		data, err := fs.ReadFile(fsys, path.Join(root, name))
		if err != nil {
			errs = append(errs, renamePath(err, shown))
			continue
		}
		img, ferrs := parse(data, shown, loc.base)
		errs = append(errs, ferrs...)
		if img == nil {
			continue
		}
		if first, dup := from[img.Name]; dup {
			errs = append(errs, problem(shown, "name", "%q is already defined in %s", img.Name, first))
			continue
		}
		from[img.Name] = shown
		img.Source = filepath.Join(loc.base, name)
		c.byName[img.Name] = img
		c.sorted = append(c.sorted, img)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(c.sorted, func(a, b *boot.Image) int { return strings.Compare(a.Name, b.Name) })
	return c, nil
}

// definitionFiles returns the names of the definition files in root, sorted.
func definitionFiles(fsys fs.FS, root string) ([]string, error) {
	entries, err := fs.ReadDir(fsys, root)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		if ext := filepath.Ext(n); ext == ".yaml" || ext == ".yml" {
			names = append(names, n)
		}
	}
	return names, nil
}

// renamePath makes a path error name the path as the user gave it, rather
// than as the fs.FS saw it.
func renamePath(err error, name string) error {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
}

// Image returns a copy of the image called name, or an error wrapping
// [boot.ErrUnknownImage]. It never blocks and ignores ctx.
func (c *Catalog) Image(ctx context.Context, name string) (*boot.Image, error) {
	img, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", boot.ErrUnknownImage, name)
	}
	return clone(img), nil
}

// Images returns copies of every image, sorted by name. It never fails or
// blocks, and ignores ctx.
func (c *Catalog) Images(ctx context.Context) ([]*boot.Image, error) {
	out := make([]*boot.Image, len(c.sorted))
	for i, img := range c.sorted {
		out[i] = clone(img)
	}
	return out, nil
}

// clone returns a deep copy of img, so callers may change what they get.
func clone(img *boot.Image) *boot.Image {
	c := *img
	c.Initrds = slices.Clone(img.Initrds)
	return &c
}
