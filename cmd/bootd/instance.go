package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/bootd/bootd/boot"
)

// instanceFileName is the file in the data folder that keeps the name
// bootd made for itself when instance_name is not set.
const instanceFileName = "instance-name"

// instanceName is this bootd's name among the instances sharing its store:
// instance_name when set; else the name kept in dataDir, made at the first
// start from the host name and six random hex digits, so that it stays the
// same across restarts and differs between two hosts of one name.
func instanceName(cfg serveConfig) (string, error) {
	if cfg.InstanceName != "" {
		return cfg.InstanceName, nil
	}
	path := filepath.Join(cfg.DataDir, instanceFileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		name := strings.TrimSpace(string(b))
		if err := boot.ValidInstanceName(name); err != nil {
			return "", fmt.Errorf("%s: %w (remove the file to make a new name, or set instance_name)", path, err)
		}
		return name, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("instance name: %w", err)
	}
	name := newInstanceName(hostname())
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return "", fmt.Errorf("instance name: %w", err)
	}
	if err := os.WriteFile(path, []byte(name+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("instance name: %w", err)
	}
	return name, nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// newInstanceName makes a name from host (its first label, with what a name
// may not hold left out) and six random hex digits.
func newInstanceName(host string) string {
	host, _, _ = strings.Cut(host, ".")
	var b strings.Builder
	for _, r := range host {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	prefix := b.String()
	if prefix == "" {
		prefix = "bootd"
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	return fmt.Sprintf("%.55s-%s", prefix, hex.EncodeToString(rnd[:]))
}

// instanceAddr is the boot listener's URL as the instance list shows it:
// as machines reach it (advertise), else the address it listens on.
func instanceAddr(cfg serveConfig, ln net.Addr) string {
	if u := advertisedURL(cfg, "http", ln.String(), slog.New(slog.DiscardHandler)); u != "" {
		return u
	}
	return "http://" + ln.String()
}
