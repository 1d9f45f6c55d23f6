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
	if in.Op == IntentReplace && (in.Volume.Name == "" || s.volumes != nil) {
		_, err := s.finishReplace(ctx, in)
		return "finished", err
	}
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
	Repair bool `json:"repair"`
	// DryRun says the repair was planned, not done: each finding's Action
	// is what the repair would do ("would remove", "would create").
	DryRun   bool      `json:"dry_run,omitempty"`
	Findings []Finding `json:"findings"`
	// Refused says why the repair removes no volume without a node (the
	// mass-delete guard, ReconcileOptions); empty when it does not refuse.
	Refused string `json:"refused,omitempty"`
}

// ReconcileOptions say what a reconcile pass may do.
type ReconcileOptions struct {
	// Repair repairs what the pass finds; without it the pass only reports.
	Repair bool `json:"repair"`
	// DryRun, with Repair, does nothing and says what the repair would do.
	DryRun bool `json:"dry_run"`
	// MaxDelete is the most volumes without a node a repair removes; zero
	// means DefaultMaxDelete of the pool's bootd volumes.
	MaxDelete int `json:"max_delete"`
	// AllowMassDelete lifts the guard: a repair removes every volume
	// without a node, however many, and even when the store has no nodes.
	AllowMassDelete bool `json:"allow_mass_delete"`
}

// DefaultMaxDelete is how many volumes without a node a repair removes
// when the pool holds pool bootd volumes: a tenth of them, at least 3. A
// store restored from an old backup, or a bootd on the wrong data folder,
// would otherwise have every volume it does not know removed.
func DefaultMaxDelete(pool int) int { return max(3, pool/10) }

// Reconcile compares the nodes with the volumes the backend holds and
// reports volumes without nodes, nodes without volumes, and interrupted
// operations. With opts.Repair it recovers interrupted operations (as
// Recover does), removes volumes without nodes, and gives enrolled nodes
// without a volume a fresh one; with opts.DryRun as well it only says so.
// Nodes with an operation under way are skipped. A repair removes no volume
// at all (and says why in Refused) when the store holds no node, or when
// more volumes than opts.MaxDelete have none, unless opts.AllowMassDelete.
func (s *Service) Reconcile(ctx context.Context, opts ReconcileOptions) (*Reconciliation, error) {
	if s.volumes == nil {
		return nil, fmt.Errorf("reconcile: %w", ErrNoVolumes)
	}
	if opts.MaxDelete < 0 {
		return nil, fmt.Errorf("reconcile: %w: max delete %d", ErrInvalid, opts.MaxDelete)
	}
	repair, dry := opts.Repair, opts.Repair && opts.DryRun
	r := &Reconciliation{Repair: repair, DryRun: dry, Findings: []Finding{}}
	if repair && !dry {
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
		if (!repair || dry) && !s.inflight.has(in.MAC) {
			f := Finding{MAC: in.MAC, Volume: in.Volume.Name, Problem: ProblemInterrupted + " " + string(in.Op)}
			if dry {
				f.Action = "would recover"
			}
			r.Findings = append(r.Findings, f)
		}
	}
	owned := map[string]bool{}
	for _, n := range nodes {
		if n.Enrolled() && n.Volume != "" {
			owned[n.Volume] = true
		}
	}
	var orphans []Finding
	pool := 0
	for _, name := range names {
		mac, ok := ParseVolumeName(name)
		if !ok {
			continue
		}
		pool++
		if owned[name] || pending[mac.String()] || s.inflight.has(mac) {
			continue
		}
		orphans = append(orphans, Finding{MAC: mac, Volume: name, Problem: ProblemOrphanVolume})
	}
	if repair {
		r.Refused = massDelete(opts, len(orphans), pool, len(nodes))
	}
	if len(orphans) > 0 && repair && !dry && r.Refused == "" {
		s.log.Warn("reconcile: removing volumes without a node", "count", len(orphans), "volumes", volumeNames(orphans))
	}
	for _, f := range orphans {
		switch {
		case !repair:
		case r.Refused != "":
			f.Action = "refused"
		case dry:
			f.Action = "would remove"
		default:
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
		switch {
		case dry:
			f.Action = "would create"
		case repair:
			if made, err := s.reimage(ctx, n.MAC, ""); err != nil {
				f.Error = err.Error()
			} else {
				f.Action, f.Volume = "created", made.Volume
			}
		}
		r.Findings = append(r.Findings, f)
	}
	for _, f := range r.Findings {
		s.log.Warn("reconcile", "mac", f.MAC.String(), "volume", f.Volume, "problem", f.Problem, "action", f.Action, "err", f.Error)
	}
	if r.Refused != "" {
		s.log.Warn("reconcile: volumes without a node not removed", "reason", r.Refused)
	}
	return r, nil
}

// massDelete says why a repair must not remove orphans volumes without a
// node out of pool bootd volumes when the store holds nodes nodes, or ""
// when it may.
func massDelete(opts ReconcileOptions, orphans, pool, nodes int) string {
	if orphans == 0 || opts.AllowMassDelete {
		return ""
	}
	if nodes == 0 {
		return fmt.Sprintf("the store holds no nodes, so the %d bootd volumes in the pool look unowned: "+
			"is bootd running on the right data folder, or was its store lost (restore it from a bootd backup)? "+
			"If these volumes really are leftovers, repair with --allow-mass-delete", orphans)
	}
	limit := opts.MaxDelete
	if limit == 0 {
		limit = DefaultMaxDelete(pool)
	}
	if orphans > limit {
		return fmt.Sprintf("%d of the pool's %d bootd volumes have no node, more than the %d a repair removes: "+
			"a store restored from an old backup or another data folder looks like this. "+
			"Check the list (--dry-run), then repair with --max-delete %d or --allow-mass-delete", orphans, pool, limit, orphans)
	}
	return ""
}

func volumeNames(fs []Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Volume
	}
	return out
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
