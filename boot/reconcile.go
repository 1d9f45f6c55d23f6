package boot

import (
	"context"
	"errors"
	"fmt"
)

// A Finding is one thing Recover or Reconcile found wrong, and what it did.
type Finding struct {
	MAC    MAC    `json:"mac,omitempty"`
	Volume string `json:"volume,omitempty"`
	// Problem says what is wrong: an interrupted operation, a volume
	// without a node, a node without a volume.
	Problem string `json:"problem"`
	// Action is what was done about it; empty when it was only reported.
	Action string `json:"action,omitempty"`
	// Error is why the action failed.
	Error string `json:"error,omitempty"`
}

// The problems a Finding reports.
const (
	ProblemInterrupted   = "interrupted"         // an operation's intent was left by a crash or failure
	ProblemOrphanVolume  = "volume without node" // a volume no enrolled node owns
	ProblemMissingVolume = "node without volume" // an enrolled node whose volume is missing
)

// Recover finishes or undoes every operation whose intent was left by a
// crash (or a failure it could not clean up): an enroll is undone (its
// volume removed; the client never saw it succeed), a reimage, a retire or
// an orphan removal is finished. Operations running in this process are
// left alone. bootd calls it at start, before serving.
func (s *Service) Recover(ctx context.Context) ([]Finding, error) {
	ins, err := s.store.Intents(ctx)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, in := range ins {
		if err := s.inflight.begin(in.MAC); err != nil {
			continue // still running
		}
		f := Finding{MAC: in.MAC, Volume: in.Volume.Name, Problem: ProblemInterrupted + " " + string(in.Op)}
		f.Action, err = s.resume(ctx, in)
		s.inflight.end(in.MAC)
		if err != nil {
			f.Error = err.Error()
			s.log.Error("recovering an interrupted operation failed", "mac", in.MAC.String(), "op", in.Op, "err", err)
		} else {
			s.log.Warn("interrupted operation recovered", "mac", in.MAC.String(), "op", in.Op, "action", f.Action)
		}
		out = append(out, f)
	}
	return out, nil
}

// resume finishes or undoes one intent and says which.
func (s *Service) resume(ctx context.Context, in Intent) (string, error) {
	if s.volumes == nil {
		return "", fmt.Errorf("%w: cannot recover %s of %s", ErrNoVolumes, in.Op, in.MAC)
	}
	switch in.Op {
	case IntentEnroll:
		if n, err := s.store.Node(ctx, in.MAC); err == nil && n.Enrolled() && n.Volume == in.Volume.Name {
			s.endIntent(ctx, in.MAC) // the enroll was stored: it finished
			return "finished", nil
		}
		return "undone", s.undoEnroll(ctx, in.MAC, in.Volume.Name, nil)
	case IntentReimage:
		_, err := s.finishReimage(ctx, in)
		if errors.Is(err, ErrUnknown) { // the node is gone: nothing to reimage
			err = s.store.DeleteIntent(ctx, in.MAC)
		}
		return "finished", err
	case IntentRetire:
		_, err := s.finishRetire(ctx, in)
		return "finished", err
	case IntentRemoveOrphan:
		return "removed", s.finishRemoveOrphan(ctx, in)
	default:
		return "", fmt.Errorf("unknown intent %q for %s", in.Op, in.MAC)
	}
}

// A Reconciliation is the result of a reconcile pass.
type Reconciliation struct {
	// Repair says whether the pass repaired what it found or only reported it.
	Repair   bool      `json:"repair"`
	Findings []Finding `json:"findings"`
}

// Reconcile compares the nodes with the volumes the backend holds and
// reports volumes without nodes, nodes without volumes, and interrupted
// operations. With repair it recovers interrupted operations (as Recover
// does), removes volumes without nodes, and gives enrolled nodes without a
// volume a fresh one. Nodes with an operation under way are skipped.
func (s *Service) Reconcile(ctx context.Context, repair bool) (*Reconciliation, error) {
	if s.volumes == nil {
		return nil, fmt.Errorf("reconcile: %w", ErrNoVolumes)
	}
	r := &Reconciliation{Repair: repair, Findings: []Finding{}}
	if repair {
		fs, err := s.Recover(ctx)
		if err != nil {
			return nil, err
		}
		r.Findings = append(r.Findings, fs...)
	}
	// List the volumes before reading nodes and intents: a volume made
	// after the list is not judged, and one made before it belongs to an
	// intent or a node read after it.
	names, err := s.volumes.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	ins, err := s.store.Intents(ctx)
	if err != nil {
		return nil, err
	}
	nodes, err := s.store.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	pending := map[string]bool{}
	for _, in := range ins {
		pending[in.MAC.String()] = true
		if !repair && !s.inflight.has(in.MAC) {
			r.Findings = append(r.Findings, Finding{MAC: in.MAC, Volume: in.Volume.Name,
				Problem: ProblemInterrupted + " " + string(in.Op)})
		}
	}
	owned := map[string]bool{}
	for _, n := range nodes {
		if n.Enrolled() && n.Volume != "" {
			owned[n.Volume] = true
		}
	}
	for _, name := range names {
		mac, ok := ParseVolumeName(name)
		if !ok || owned[name] || pending[mac.String()] || s.inflight.has(mac) {
			continue
		}
		f := Finding{MAC: mac, Volume: name, Problem: ProblemOrphanVolume}
		if repair {
			s.repairOrphan(ctx, &f)
		}
		r.Findings = append(r.Findings, f)
	}
	for _, n := range nodes {
		if !n.Enrolled() || pending[n.MAC.String()] || s.inflight.has(n.MAC) {
			continue
		}
		if n.Volume != "" {
			_, err := s.volumes.Volume(ctx, n.Volume)
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrNotFound) {
				return nil, fmt.Errorf("reconcile: %w", err)
			}
		}
		f := Finding{MAC: n.MAC, Volume: n.Volume, Problem: ProblemMissingVolume}
		if repair {
			if _, err := s.reimage(ctx, n.MAC, ""); err != nil {
				f.Error = err.Error()
			} else {
				f.Action, f.Volume = "created", VolumeName(n.MAC)
			}
		}
		r.Findings = append(r.Findings, f)
	}
	for _, f := range r.Findings {
		s.log.Warn("reconcile", "mac", f.MAC.String(), "volume", f.Volume, "problem", f.Problem, "action", f.Action, "err", f.Error)
	}
	return r, nil
}

// repairOrphan removes a volume no node owns, under an intent so that a
// crash halfway is finished at the next start.
func (s *Service) repairOrphan(ctx context.Context, f *Finding) {
	if err := s.inflight.begin(f.MAC); err != nil {
		f.Error = err.Error()
		return
	}
	defer s.inflight.end(f.MAC)
	in := Intent{Op: IntentRemoveOrphan, MAC: f.MAC, Volume: VolumeRequest{Name: f.Volume, Node: f.MAC}, Started: s.now()}
	if err := s.store.PutIntent(ctx, in); err != nil {
		f.Error = err.Error()
		return
	}
	if err := s.finishRemoveOrphan(ctx, in); err != nil {
		f.Error = err.Error()
		return
	}
	f.Action = "removed"
}

// finishRemoveOrphan removes an orphan volume unless a node owns it by now,
// and deletes the intent.
func (s *Service) finishRemoveOrphan(ctx context.Context, in Intent) error {
	n, err := s.store.Node(ctx, in.MAC)
	switch {
	case err == nil && n.Enrolled() && n.Volume == in.Volume.Name:
		// adopted meanwhile: keep it
	case err != nil && !errors.Is(err, ErrUnknown):
		return err
	default:
		if err := s.volumes.Remove(ctx, in.Volume.Name); err != nil {
			return fmt.Errorf("remove volume %s: %w", in.Volume.Name, err)
		}
	}
	return s.store.DeleteIntent(ctx, in.MAC)
}
