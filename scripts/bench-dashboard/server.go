package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/bootd/bootd/boot/access"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/store"
	"github.com/bootd/bootd/images"
	"github.com/bootd/bootd/web"
)

// server is one in-process bootd and a logged-in client of its dashboard.
type server struct {
	url    string
	svc    *boot.Service
	db     *store.DB
	srv    *http.Server
	client *http.Client
	macs   []boot.MAC
}

func startServer(ctx context.Context, dir string, nodes int) (*server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	db, err := store.Open(filepath.Join(dir, store.FileName), store.Options{})
	if err != nil {
		return nil, err
	}
	cat, err := images.Example()
	if err != nil {
		return nil, err
	}
	svc, err := boot.NewService(boot.Config{Store: db, Catalog: cat})
	if err != nil {
		return nil, err
	}
	s := &server{svc: svc, db: db}
	if err := s.populate(ctx, nodes); err != nil {
		return nil, err
	}
	const token = "bench-token"
	users, err := access.NewDirectory(access.Config{Store: db})
	if err != nil {
		return nil, err
	}
	if _, err := users.Bootstrap(ctx, sha256.Sum256([]byte(token))); err != nil {
		return nil, err
	}
	h, err := web.New(web.Config{Nodes: svc, Enrollment: svc, Volumes: svc, Events: svc, Fetches: svc, Resolver: svc,
		Users: users, Audit: db.AuditLog(access.Retention{})})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.srv = &http.Server{Handler: h.Admin, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	s.url = "http://" + ln.Addr().String()
	jar, _ := cookiejar.New(nil)
	s.client = &http.Client{Jar: jar, Timeout: 30 * time.Second}
	return s, s.login(ctx, token)
}

// populate enrolls n nodes, in both images, each with one boot event, from
// several goroutines so that the store batches their transactions.
func (s *server) populate(ctx context.Context, n int) error {
	s.macs = make([]boot.MAC, n)
	for i := range n {
		s.macs[i] = boot.MAC{0x52, 0x54, 0x00, byte(i >> 16), byte(i >> 8), byte(i)}
	}
	imgs := []string{"debian-12", "alpine-3.20"}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				req := boot.EnrollRequest{MAC: s.macs[i], Image: imgs[i%2], Hostname: fmt.Sprintf("node%05d", i)}
				if _, err := s.svc.Enroll(ctx, req); err != nil {
					errs <- err
					return
				}
				if _, err := s.svc.Record(ctx, s.macs[i], boot.Event{Stage: boot.StageRoot, Source: "198.18.0.2"}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs the client in with the API token, as a browser does.
func (s *server) login(ctx context.Context, token string) error {
	body, err := s.get(ctx, "/login")
	if err != nil {
		return err
	}
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		return errors.New("login page has no CSRF token")
	}
	form := url.Values{"csrf": {m[1]}, "secret": {token}, "next": {"/machines"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/machines" {
		return fmt.Errorf("login: %s at %s", resp.Status, resp.Request.URL)
	}
	return nil
}

func (s *server) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return string(b), err
}

// load fetches a page whole and returns how long it took.
func (s *server) load(ctx context.Context, path string) (time.Duration, error) {
	start := time.Now()
	body, err := s.get(ctx, path)
	d := time.Since(start)
	if err == nil && !strings.Contains(body, "</html>") {
		err = fmt.Errorf("GET %s: short page", path)
	}
	return d, err
}

// watch keeps the live-update stream of the machines page open and read.
func (s *server) watch(ctx context.Context) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/events", nil)
	if err != nil {
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	client := &http.Client{Jar: s.client.Jar}
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
	}
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	s.db.Close()
}
