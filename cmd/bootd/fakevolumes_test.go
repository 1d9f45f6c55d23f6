package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/bootd/bootd/boot"
)

// fakeVolumes is an in-memory boot.Volumes for tests that need a volume
// backend without Ceph: it records what was created and removed.
type fakeVolumes struct {
	mu      sync.Mutex
	vols    map[string]boot.VolumeRequest
	created int
}

func newFakeVolumes() *fakeVolumes { return &fakeVolumes{vols: map[string]boot.VolumeRequest{}} }

func (f *fakeVolumes) Create(_ context.Context, req boot.VolumeRequest) (*boot.Volume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.vols[req.Name]; ok {
		return nil, fmt.Errorf("volume %s exists", req.Name)
	}
	f.vols[req.Name] = req
	f.created++
	return &boot.Volume{Name: req.Name, SizeBytes: req.SizeBytes, Parent: req.Golden.String()}, nil
}

func (f *fakeVolumes) Remove(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.vols, name)
	return nil
}

// creates returns how many volumes were created.
func (f *fakeVolumes) creates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created
}
