package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/bootfs"
	"github.com/bootd/bootd/tftp"
)

// TestTFTPFetch checks how each end of a TFTP transfer becomes a fetch.
func TestTFTPFetch(t *testing.T) {
	t.Parallel()
	req := tftp.Request{Name: "a/kernel"}
	tests := []struct {
		ev   tftp.Event
		want boot.Fetch
	}{
		{tftp.Event{Outcome: tftp.Done, Request: req, Size: 9, Bytes: 9, Duration: time.Millisecond},
			boot.Fetch{Transport: boot.TFTP, File: "a/kernel", Outcome: boot.FetchDone, Bytes: 9, Size: 9, Duration: time.Millisecond}},
		{tftp.Event{Outcome: tftp.NotFound, Request: req, Size: -1, Err: bootfs.ErrNotFound},
			boot.Fetch{Transport: boot.TFTP, File: "a/kernel", Outcome: boot.FetchNotFound}},
		{tftp.Event{Outcome: tftp.NotFound, Request: req, Size: -1, Err: fmt.Errorf("open: %w", bootfs.ErrBadName)},
			boot.Fetch{Transport: boot.TFTP, File: "a/kernel", Outcome: boot.FetchRefused}},
		{tftp.Event{Outcome: tftp.Aborted, Request: req, Size: 9, Bytes: 4, Err: errors.New("client error")},
			boot.Fetch{Transport: boot.TFTP, File: "a/kernel", Outcome: boot.FetchAborted, Bytes: 4, Size: 9}},
		{tftp.Event{Outcome: tftp.Failed, Request: req, Size: 9, Bytes: 4, Err: errors.New("timeout")},
			boot.Fetch{Transport: boot.TFTP, File: "a/kernel", Outcome: boot.FetchFailed, Bytes: 4, Size: 9, Err: "timeout"}},
	}
	for _, tt := range tests {
		if got := tftpFetch(tt.ev); got != tt.want {
			t.Errorf("tftpFetch(%v) = %+v, want %+v", tt.ev.Outcome, got, tt.want)
		}
	}
}
