package web

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	th := newThrottle()
	th.now = func() time.Time { return now }
	for i := 1; i <= FailureLimit; i++ {
		if b, _ := th.blocked("addr:198.18.0.9", "user:ops"); b {
			t.Fatalf("attempt %d blocked, want the first %d through", i, FailureLimit)
		}
		th.failed("addr:198.18.0.9", "user:ops")
		now = now.Add(time.Second)
	}
	b, wait := th.blocked("addr:198.18.0.9", "user:x")
	if !b || wait <= 0 || wait > time.Minute {
		t.Errorf("11th attempt from the address: blocked %v, wait %v; want blocked, a wait under a minute", b, wait)
	}
	if b, _ := th.blocked("addr:198.18.0.10", "user:ops"); !b {
		t.Errorf("11th attempt for the user from another address: not blocked")
	}
	if b, _ := th.blocked("addr:198.18.0.10", "user:other"); b {
		t.Errorf("another address and user: blocked")
	}
	now = now.Add(time.Minute)
	if b, _ := th.blocked("addr:198.18.0.9", "user:ops"); b {
		t.Errorf("a minute later: still blocked")
	}
}

func TestThrottleBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	th := newThrottle()
	th.now = func() time.Time { return now }
	for i := 0; i < 3*failureKeys; i++ {
		th.failed(fmt.Sprintf("addr:%d", i))
	}
	if n := len(th.keys); n > failureKeys {
		t.Errorf("%d keys remembered, want at most %d", n, failureKeys)
	}
	th.failed("addr:last")
	if _, ok := th.keys["addr:last"]; !ok {
		t.Errorf("the newest key was not kept")
	}
}
