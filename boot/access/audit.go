package access

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/bootd/bootd/boot"
)

// Via says through which door an action came.
type Via string

// The doors.
const (
	ViaCLI       Via = "cli"       // the bootd CLI (an API call it identifies as its own)
	ViaAPI       Via = "api"       // any other API client
	ViaDashboard Via = "dashboard" // a dashboard form
)

// An Outcome is how an action ended.
type Outcome string

// The outcomes.
const (
	OutcomeOK     Outcome = "ok"
	OutcomeDenied Outcome = "denied" // refused by role, or not authenticated
	OutcomeError  Outcome = "error"  // allowed, and failed
)

// A Record is one entry of the audit log: who did what to which machine,
// from where, when, and how it ended. Error is the failure's message: the
// caller passes domain errors, which carry no secrets, and never a
// credential (this package's errors name none).
type Record struct {
	Seq     uint64     `json:"seq"` // set by the AuditLog: increasing, never reused
	Time    time.Time  `json:"time"`
	User    string     `json:"user"` // empty when nobody was authenticated
	Via     Via        `json:"via"`
	Action  Action     `json:"action"`
	MAC     boot.MAC   `json:"mac,omitempty"`    // the machine acted on, if any
	Target  string     `json:"target,omitempty"` // what else: an image, a snapshot, a user, a token id
	Remote  netip.Addr `json:"remote,omitzero"`  // the client's address
	Outcome Outcome    `json:"outcome"`
	Error   string     `json:"error,omitempty"`
}

// LogValue implements slog.LogValuer: the record as the attributes of one
// structured log line.
func (r Record) LogValue() slog.Value {
	as := []slog.Attr{slog.String("user", r.User), slog.String("via", string(r.Via)),
		slog.String("action", string(r.Action)), slog.String("outcome", string(r.Outcome))}
	if len(r.MAC) > 0 {
		as = append(as, slog.String("mac", r.MAC.String()))
	}
	if r.Target != "" {
		as = append(as, slog.String("target", r.Target))
	}
	if r.Remote.IsValid() {
		as = append(as, slog.String("ip", r.Remote.String()))
	}
	if r.Error != "" {
		as = append(as, slog.String("error", r.Error))
	}
	return slog.GroupValue(as...)
}

// A Filter selects audit records. Zero fields select everything.
type Filter struct {
	MAC   boot.MAC  // only records about this machine
	Since time.Time // only records at or after this time
	Limit int       // at most this many, the newest; 0 means no limit
}

// Match reports whether r passes f's MAC and Since conditions.
func (f Filter) Match(r Record) bool {
	if len(f.MAC) > 0 && r.MAC.String() != f.MAC.String() {
		return false
	}
	return f.Since.IsZero() || !r.Time.Before(f.Since)
}

// An AuditLog keeps audit records within its Retention. Every method is
// safe for concurrent use; Append is durable when it returns.
type AuditLog interface {
	// Append stores r (at the current time when r.Time is zero) with the
	// next sequence number, drops the records that fall outside the
	// retention, oldest first, and returns r as stored.
	Append(ctx context.Context, r Record) (Record, error)
	// Query returns the records within the retention that f selects,
	// newest first.
	Query(ctx context.Context, f Filter) ([]Record, error)
}

// Retention bounds the audit log: records beyond the newest MaxRecords, or
// older than MaxAge, are dropped, oldest first. Zero fields take the
// defaults.
type Retention struct {
	MaxRecords int
	MaxAge     time.Duration
}

// DefaultRetention keeps a year, and at most 100 000 records (some 25 MB of JSON).
var DefaultRetention = Retention{MaxRecords: 100_000, MaxAge: 365 * 24 * time.Hour}

// WithDefaults returns rt with zero fields set to DefaultRetention's.
func (rt Retention) WithDefaults() Retention {
	if rt.MaxRecords <= 0 {
		rt.MaxRecords = DefaultRetention.MaxRecords
	}
	if rt.MaxAge <= 0 {
		rt.MaxAge = DefaultRetention.MaxAge
	}
	return rt
}

// Cutoff returns the time before which records are dropped, at now.
func (rt Retention) Cutoff(now time.Time) time.Time { return now.Add(-rt.WithDefaults().MaxAge) }
