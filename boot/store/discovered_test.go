package store

import (
	"slices"
	"testing"

	"github.com/bootd/bootd/boot"
)

// discoveredIn returns the MACs of db's discovered nodes, sorted.
func discoveredIn(t *testing.T, db *DB) []string {
	t.Helper()
	nodes, err := db.Nodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range nodes {
		if n.State == boot.StateDiscovered {
			out = append(out, n.MAC.String())
		}
	}
	return out
}

// The cap on discovered machines holds in the bbolt store, and what the
// store holds of them is the same after it is closed and opened again; a
// Service on the reopened store goes on counting from there.
func TestDiscoveredCapReopen(t *testing.T) {
	t.Parallel()
	const max, sightings = 10, 40
	db, path := openTemp(t)
	ctx := t.Context()
	svc, err := boot.NewService(boot.Config{Store: db, Catalog: catalog{}, DiscoveredMax: max, DiscoveredRate: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: macN(0), Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= sightings; i++ {
		if _, err := svc.Discover(ctx, boot.Sighting{MAC: macN(i)}); err != nil {
			t.Fatal(err)
		}
	}
	before := discoveredIn(t, db)
	var want []string
	for i := sightings - max + 1; i <= sightings; i++ {
		want = append(want, macN(i).String())
	}
	if !slices.Equal(before, want) {
		t.Fatalf("discovered machines kept = %v, want the %d seen last %v", before, max, want)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if after := discoveredIn(t, db2); !slices.Equal(after, before) {
		t.Fatalf("discovered machines after reopening = %v, want %v", after, before)
	}
	svc2, err := boot.NewService(boot.Config{Store: db2, Catalog: catalog{}, DiscoveredMax: max})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc2.Discover(ctx, boot.Sighting{MAC: macN(sightings + 1)}); err != nil {
		t.Fatal(err)
	}
	want = append(want[1:], macN(sightings+1).String())
	if got := discoveredIn(t, db2); !slices.Equal(got, want) {
		t.Errorf("after one more sighting on the reopened store: %v, want %v", got, want)
	}
	if n, err := db2.Node(ctx, macN(0)); err != nil || n.State != boot.StateEnrolled {
		t.Errorf("Node(%s) = %v, %v; want the enrolled machine kept", macN(0), n, err)
	}
}
