package images

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// A CPIOFile is one entry of a newc cpio archive.
type CPIOFile struct {
	// Name is the path inside the archive, relative, with forward slashes.
	Name string
	// Mode is the permission bits; the type (file, folder, symlink) comes from the fields below.
	Mode fs.FileMode
	// Data is a regular file's content.
	Data []byte
	// Dir marks a folder.
	Dir bool
	// Link is a symbolic link's target.
	Link string
}

// cpio type bits (from the kernel's and POSIX's cpio definitions).
const (
	cpioDir  = 0o040000
	cpioFile = 0o100000
	cpioLink = 0o120000
)

// WriteCPIO returns a newc ("070701") cpio archive of files, the format the
// kernel unpacks as an initramfs (Documentation/driver-api/early-userspace/
// buffer-format.rst). Folders that files need are added, entries are sorted,
// and owners and times are zero, so equal input gives equal bytes. Names must
// be relative and clean.
func WriteCPIO(files []CPIOFile) ([]byte, error) {
	all := map[string]CPIOFile{}
	for _, f := range files {
		name := strings.TrimPrefix(f.Name, "./")
		if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") {
			return nil, fmt.Errorf("cpio: bad name %q", f.Name)
		}
		f.Name = name
		all[name] = f
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := all[d]; !ok {
				all[d] = CPIOFile{Name: d, Dir: true, Mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	for i, n := range names {
		writeEntry(&buf, all[n], i+1)
	}
	writeEntry(&buf, CPIOFile{Name: "TRAILER!!!"}, 0)
	for buf.Len()%512 != 0 { // pad to a block, as cpio(1) does
		buf.WriteByte(0)
	}
	return buf.Bytes(), nil
}

func writeEntry(buf *bytes.Buffer, f CPIOFile, ino int) {
	mode := uint32(f.Mode.Perm())
	data := f.Data
	nlink := 1
	switch {
	case f.Dir:
		mode |= cpioDir
		data = nil
		nlink = 2
	case f.Link != "":
		mode |= cpioLink
		data = []byte(f.Link)
	case f.Name != "TRAILER!!!":
		mode |= cpioFile
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor,
	// rdevmajor, rdevminor, namesize, check
	fmt.Fprintf(buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(f.Name)+1, 0)
	buf.WriteString(f.Name)
	buf.WriteByte(0)
	pad4(buf)
	buf.Write(data)
	pad4(buf)
}

func pad4(buf *bytes.Buffer) {
	for buf.Len()%4 != 0 {
		buf.WriteByte(0)
	}
}

// ReadCPIO parses a newc cpio archive (as WriteCPIO writes it) back into its
// entries, without the trailer. It is for tests and `bootd explain`.
func ReadCPIO(b []byte) ([]CPIOFile, error) {
	var out []CPIOFile
	for off := 0; ; {
		if len(b)-off < 110 || string(b[off:off+6]) != "070701" {
			return nil, fmt.Errorf("cpio: no newc header at offset %d", off)
		}
		var h [13]uint64
		for i := range h {
			if _, err := fmt.Sscanf(string(b[off+6+8*i:off+14+8*i]), "%08X", &h[i]); err != nil {
				return nil, fmt.Errorf("cpio: bad header at offset %d: %w", off, err)
			}
		}
		mode, size, nameLen := h[1], int(h[6]), int(h[11])
		nameAt := off + 110
		if nameLen < 1 || nameAt+nameLen > len(b) {
			return nil, fmt.Errorf("cpio: bad name length at offset %d", off)
		}
		name := string(b[nameAt : nameAt+nameLen-1])
		dataAt := align4(nameAt + nameLen)
		if dataAt+size > len(b) {
			return nil, fmt.Errorf("cpio: %s: truncated", name)
		}
		if name == "TRAILER!!!" {
			return out, nil
		}
		f := CPIOFile{Name: name, Mode: fs.FileMode(mode & 0o7777)}
		data := append([]byte(nil), b[dataAt:dataAt+size]...)
		switch mode & 0o170000 {
		case cpioDir:
			f.Dir = true
		case cpioLink:
			f.Link = string(data)
		default:
			f.Data = data
		}
		out = append(out, f)
		off = align4(dataAt + size)
	}
}

func align4(n int) int { return (n + 3) &^ 3 }
