//go:build integration

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
	"github.com/bootd/bootd/boot/boottest"
	"github.com/bootd/bootd/boot/radosstore"
	"github.com/chromedp/chromedp"
)

// Two bootd instances in this process on one RADOS store (the real cluster
// of make integration, as client.bootd), each with its own admin listener
// and dashboard, one volume backend between them as one Ceph is.

// sharedPair starts two instances on a fresh namespace.
func sharedPair(t *testing.T) (a, b *inProcess) {
	t.Helper()
	conf := os.Getenv("BOOTD_TEST_CEPH_CONF")
	if conf == "" {
		t.Fatal("BOOTD_TEST_CEPH_CONF is not set: run this test with make integration, which starts a cluster")
	}
	var ns [6]byte
	rand.Read(ns[:])
	cfg := radosstore.Config{ConfFile: conf, Keyring: filepath.Join(filepath.Dir(conf), "client.bootd.keyring"),
		Namespace: "bootd-test-" + hex.EncodeToString(ns[:])}
	vols := boottest.NewVolumes()
	open := func(name string) *inProcess {
		st, err := radosstore.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return startInProcessOn(t, st, st.AuditLog(access.Retention{}), vols, name)
	}
	return open("boot-a"), open("boot-b")
}

// TestSharedDashboard: a machine enrolled at instance A is on instance B's
// machines page, in a real browser, within a second: B's node list was
// read before, and only A's notify (watch/notify on the shared store)
// tells B to read that machine again.
func TestSharedDashboard(t *testing.T) {
	a, b := sharedPair(t)
	const user, password = "olivia", "operator's own password"
	if _, err := a.users.AddUser(t.Context(), user, access.RoleOperator, password); err != nil {
		t.Fatal(err)
	}
	ctx := browserContext(t, b.spki)         // B's certificate; A's dashboard is not used
	if err := chromedp.Do(ctx); err != nil { // start the browser on the long-lived context
		t.Fatalf("start chromium: %v", err)
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	run("log in at B (a user made at A)",
		chromedp.Navigate(b.url+"/machines"),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
		chromedp.SendKeys(chromedp.CSS(`#user`), user),
		chromedp.SendKeys(chromedp.CSS(`#secret`), password),
		chromedp.Click(chromedp.CSS(`.login button`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-live-state="open"]`)),
	)
	time.Sleep(500 * time.Millisecond) // B's watch is up (it follows from its start)
	const mac = "52:54:00:5e:0a:01"
	m, _ := boot.ParseMAC(mac)
	if _, err := a.svc.Enroll(t.Context(), boot.EnrollRequest{MAC: m, Image: "debian-12", Hostname: "shared1"}); err != nil {
		t.Fatal(err)
	}
	enrolled := time.Now()
	for {
		var shown bool
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := chromedp.Do(sctx, chromedp.Navigate(b.url+"/machines"),
			into(&shown, chromedp.Evaluate[bool](`!!document.querySelector('table.nodes tr[data-mac="`+mac+`"]')`)))
		cancel()
		if err != nil {
			t.Logf("B's machines page at %v: %v", time.Since(enrolled).Round(time.Millisecond), err)
		}
		if shown {
			break
		}
		if time.Since(enrolled) > time.Second {
			t.Fatal("the machine enrolled at A is not on B's machines page a second later")
		}
	}
	t.Logf("on B's machines page %v after A enrolled it", time.Since(enrolled).Round(time.Millisecond))
}
