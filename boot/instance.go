package boot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Several bootd instances may share one store (boot/radosstore). Each names
// itself (Config.Instance), stamps that name on the timeline events it
// records (Event.Instance), and, when its store keeps instance records
// (InstanceStore), writes a heartbeat every HeartbeatEvery so that every
// instance can list the others (Service.Instances).

// Instance bookkeeping.
const (
	// HeartbeatEvery is how often a running bootd writes its heartbeat.
	HeartbeatEvery = 10 * time.Second
	// InstanceGoneAfter is how old a heartbeat may be before its instance counts
	// as gone: three missed heartbeats.
	InstanceGoneAfter = 3 * HeartbeatEvery
	// InstanceKeep is how long the record of an instance that stopped
	// writing heartbeats is kept; older ones are deleted at a heartbeat.
	InstanceKeep = 24 * time.Hour
	// maxInstanceName bounds an instance's name.
	maxInstanceName = 63
)

// An Instance is one bootd's record in the store, as its last heartbeat
// wrote it.
type Instance struct {
	// ID is the instance's name: its configured instance_name, or the one
	// it generated once and keeps in its data folder.
	ID string `json:"id"`
	// Addr is where machines reach its boot listener (a URL).
	Addr string `json:"addr,omitempty"`
	// Node is where machines reach its node listener (an https URL), and
	// NodePin the SHA-256 (hex) of that listener's certificate: what a
	// node's bootd-init needs to ask this instance for its key when the one
	// that served its boot files does not answer (NodeFallbacks).
	Node    string `json:"node,omitempty"`
	NodePin string `json:"node_pin,omitempty"`
	// Version is the build's version.
	Version string `json:"version,omitempty"`
	// Started is when this run of the instance started.
	Started time.Time `json:"started"`
	// Seen is the time of its last heartbeat.
	Seen time.Time `json:"seen"`
	// Stopped is when it shut down cleanly; zero while it runs (or when it
	// died without saying so).
	Stopped time.Time `json:"stopped,omitzero"`
}

// InstanceState says whether an instance is running, as far as its
// heartbeats tell.
type InstanceState string

// The states of an instance.
const (
	InstanceAlive   InstanceState = "alive"   // its last heartbeat is recent
	InstanceGone    InstanceState = "gone"    // no heartbeat for InstanceGoneAfter
	InstanceStopped InstanceState = "stopped" // it said it shut down
)

// InstanceStatus is an Instance with what its heartbeat means now.
type InstanceStatus struct {
	Instance
	State InstanceState `json:"state"`
	// Self marks the instance that answers.
	Self bool `json:"self,omitempty"`
}

// InstanceStore keeps the instances' records. A Store that implements it
// (both of bootd's do) gets heartbeats; one that does not gets none, and
// Service.Instances lists only the Service's own instance. Its methods are
// safe for concurrent use, from several instances at once.
type InstanceStore interface {
	// PutInstance stores in under in.ID, replacing the record there whole.
	PutInstance(ctx context.Context, in Instance) error
	// Instances returns every stored record, sorted by ID.
	Instances(ctx context.Context) ([]Instance, error)
	// DeleteInstance removes id's record; removing none is not an error.
	DeleteInstance(ctx context.Context, id string) error
}

// ValidInstanceName checks an instance's name: 1 to 63 letters, digits,
// dots, dashes and underscores, as in a host name.
func ValidInstanceName(name string) error {
	if name == "" || len(name) > maxInstanceName {
		return invalid("instance name %q: want 1 to %d characters", name, maxInstanceName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_", r)) {
			return invalid("instance name %q: only letters, digits, '.', '-' and '_'", name)
		}
	}
	return nil
}

// Instance returns the name this Service stamps on its events ("" for none).
func (s *Service) Instance() string { return s.instance }

// Heartbeat writes self's record at once and then every HeartbeatEvery
// until ctx ends, deleting the records of instances silent for
// InstanceKeep; then it writes self once more, stopped, and returns. self's
// ID is the Service's instance name whatever self says, and its Seen and
// Started are set here. Without an InstanceStore, or a name, it waits for
// ctx and returns. A failed write is logged (once, until one succeeds) and
// retried at the next beat.
func (s *Service) Heartbeat(ctx context.Context, self Instance) {
	if s.instances == nil || s.instance == "" {
		<-ctx.Done()
		return
	}
	self.ID, self.Started, self.Stopped = s.instance, s.now(), time.Time{}
	failing := false
	beat := func(ctx context.Context) {
		self.Seen = s.now()
		err := s.instances.PutInstance(ctx, self)
		if err == nil && self.Stopped.IsZero() {
			err = s.pruneInstances(ctx)
		}
		switch {
		case err != nil && !failing:
			s.log.Warn("instance heartbeat not written", "instance", self.ID, "err", err)
		case err == nil && failing:
			s.log.Info("instance heartbeat written again", "instance", self.ID)
		}
		failing = err != nil
	}
	beat(ctx)
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			beat(ctx)
		case <-ctx.Done():
			self.Stopped = s.now()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			beat(sctx)
			return
		}
	}
}

// pruneInstances deletes the records of instances silent for InstanceKeep.
func (s *Service) pruneInstances(ctx context.Context) error {
	all, err := s.instances.Instances(ctx)
	if err != nil {
		return err
	}
	for _, in := range all {
		if s.now().Sub(in.Seen) > InstanceKeep {
			if err := s.instances.DeleteInstance(ctx, in.ID); err != nil {
				return fmt.Errorf("delete instance %s: %w", in.ID, err)
			}
		}
	}
	return nil
}

// Instances lists the instances sharing the store, sorted by ID, each with
// its state now; records silent for InstanceKeep are left out (the next
// heartbeat deletes them). Without an InstanceStore it lists only this
// Service's own instance, when it has a name.
func (s *Service) Instances(ctx context.Context) ([]InstanceStatus, error) {
	var all []Instance
	if s.instances != nil {
		var err error
		if all, err = s.instances.Instances(ctx); err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
	}
	now := s.now()
	out := []InstanceStatus{}
	self := false
	for _, in := range all {
		age := now.Sub(in.Seen)
		if age > InstanceKeep {
			continue
		}
		st := InstanceStatus{Instance: in, State: InstanceAlive, Self: in.ID == s.instance && s.instance != ""}
		switch {
		case !in.Stopped.IsZero():
			st.State = InstanceStopped
		case age > InstanceGoneAfter:
			st.State = InstanceGone
		}
		self = self || st.Self
		out = append(out, st)
	}
	if !self && s.instance != "" && s.instances == nil {
		out = append(out, InstanceStatus{Instance: Instance{ID: s.instance}, State: InstanceAlive, Self: true})
	}
	slices.SortFunc(out, func(a, b InstanceStatus) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// NodeFallbacks returns the node listeners (URL and certificate pin) of the
// other instances alive on the store, sorted by ID: where a node's
// bootd-init asks for its key when the instance that served its boot files
// does not answer. Sessions live in the store (SessionStore), so any of
// them can release the key of the boot. Best effort: a store that cannot
// list instances gives none.
func (s *Service) NodeFallbacks(ctx context.Context) []Instance {
	if s.instances == nil {
		return nil
	}
	all, err := s.Instances(ctx)
	if err != nil {
		s.log.Warn("node fallbacks: instances not listed", "err", err)
		return nil
	}
	var out []Instance
	for _, in := range all {
		if in.State == InstanceAlive && !in.Self && in.Node != "" && in.NodePin != "" {
			out = append(out, in.Instance)
		}
	}
	return out
}
