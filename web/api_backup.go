package web

import (
	"io"
	"net/http"
	"strconv"
)

// A Backup writes a consistent copy of the whole store (store.DB.WriteTo).
type Backup interface {
	WriteTo(w io.Writer) (int64, error)
}

// backup answers GET /api/v1/backup with a copy of the store file, taken
// in one read transaction while bootd keeps serving. When the copy fails
// after the answer has begun, the connection is cut without the final chunk,
// so the client sees a broken download rather than a short file.
func (s *server) backup(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="bootd.db"`)
	cw := &backupCounter{w: w}
	if _, err := s.store.WriteTo(cw); err != nil {
		if cw.n == 0 {
			return err
		}
		s.log.Error("backup cut short", "err", err, "bytes", strconv.FormatInt(cw.n, 10))
		panic(http.ErrAbortHandler)
	}
	s.log.Info("backup sent", "bytes", cw.n)
	return nil
}

type backupCounter struct {
	w io.Writer
	n int64
}

func (c *backupCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
