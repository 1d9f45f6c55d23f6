package boot

import (
	"context"
	"strconv"
	"strings"
)

// A VolumeRequest asks for a node's root volume.
type VolumeRequest struct {
	// Name is the volume's name (also its RBD namespace and Ceph identity).
	Name      string
	Node      MAC
	Golden    GoldenRef
	SizeBytes int64
}

// A Volume is a node's root volume as the backend reports it.
type Volume struct {
	Name      string `json:"name"`
	SizeBytes int64  `json:"size_bytes"`
	// Parent is the golden snapshot the volume was cloned from.
	Parent string `json:"parent,omitempty"`
}

// Volumes creates and removes nodes' root volumes. Methods are called
// concurrently for different names, never concurrently for one name.
type Volumes interface {
	// Create clones req.Golden into a new volume called req.Name of
	// req.SizeBytes. It fails if the volume exists.
	Create(ctx context.Context, req VolumeRequest) (*Volume, error)
	// Remove deletes the volume called name and everything made for it.
	// Removing a volume that does not exist is not an error.
	Remove(ctx context.Context, name string) error
}

// VolumeName is the name of mac's root volume: "node-" and its twelve hex digits.
// It does not change with the hostname, so renaming a node never orphans its disk.
func VolumeName(mac MAC) string { return DefaultHostname(mac) }

// ParseSize reads a volume size: a whole number of bytes, or a number with a
// binary unit K, M, G or T (optionally followed by "i", "iB" or "B"), e.g. 20G.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, invalid("empty size")
	}
	u := strings.ToUpper(t)
	u = strings.TrimSuffix(strings.TrimSuffix(u, "B"), "I")
	shift := 0
	if n := len(u); n > 0 {
		switch u[n-1] {
		case 'K':
			shift = 10
		case 'M':
			shift = 20
		case 'G':
			shift = 30
		case 'T':
			shift = 40
		}
		if shift != 0 {
			u = u[:n-1]
		}
	}
	v, err := strconv.ParseInt(u, 10, 64)
	if err != nil || v <= 0 || v > (1<<62)>>shift {
		return 0, invalid("bad size %q: want a positive number with an optional unit K, M, G or T, like 20G", s)
	}
	return v << shift, nil
}

// FormatSize writes a size in the largest binary unit that divides it: 20G, 512M, 1000.
func FormatSize(n int64) string {
	units := []string{"T", "G", "M", "K"}
	for i, shift := range []int{40, 30, 20, 10} {
		if n > 0 && n%(1<<shift) == 0 {
			return strconv.FormatInt(n>>shift, 10) + units[i]
		}
	}
	return strconv.FormatInt(n, 10)
}
