package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkOpen5000 opens (and so checks whole) a store of 5,000 enrolled
// nodes, each with two boots of ten events on its timeline: the start-up
// cost of the check (docs/operations.md, The store).
func BenchmarkOpen5000(b *testing.B) {
	path := filepath.Join(b.TempDir(), FileName)
	db, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stages := []boot.Stage{boot.StageDHCP, boot.StageTFTP, boot.StageDHCP, boot.StageScript, boot.StageKernel,
		boot.StageInitrd, boot.StageNetwork, boot.StageKey, boot.StageVolume, boot.StageRoot}
	for chunk := 0; chunk < 5000; chunk += 500 {
		if err := db.db.Update(func(tx *bolt.Tx) error {
			for i := chunk; i < chunk+500; i++ {
				n := &boot.Node{MAC: macN(i), Image: "debian", Hostname: "node", State: boot.StateEnrolled,
					Volume: boot.VolumeName(macN(i)), Netboot: true}
				if err := db.putNode(tx, n); err != nil {
					return err
				}
				for k := range 2 * len(stages) {
					ev := boot.Event{Stage: stages[k%len(stages)], Time: t0.Add(time.Duration(k) * time.Second), Source: "198.18.0.10"}
					if _, err := db.appendEvent(tx, macN(i), ev, boot.DefaultTimelinePolicy()); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	db.Close()
	b.ResetTimer()
	for b.Loop() {
		db, err := Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
	b.StopTimer()
	if fi, err := os.Stat(path); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "MiB")
	}
	if sum, err := Check(path); err != nil || sum.Nodes != 5000 {
		b.Fatalf("Check = %+v, %v", sum, err)
	}
}
