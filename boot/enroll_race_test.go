package boot

import (
	"context"
	"errors"
	"testing"
)

// TestEnrollLosingTheCreateRace: another request (perhaps at another
// instance) creates the machine's volume between this enroll's look and its
// create. The loser is told the enrollment is under way, and removes
// neither that volume nor the intent under the MAC, which are the other
// request's (TestConflictingEnrollments saw a loser remove the winner's
// volume). Once the other request has stored its node, a loser reports it
// enrolled and leaves no intent of its own behind.
func TestEnrollLosingTheCreateRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vols := &fakeVolumes{}
	s, st := newTestService(t, vols)
	name := VolumeName(testMAC)
	// The other request: its intent, then its volume, seen by no look yet.
	if err := st.PutIntent(ctx, Intent{Op: IntentEnroll, MAC: testMAC, Volume: VolumeRequest{Name: name, Node: testMAC}}); err != nil {
		t.Fatal(err)
	}
	if _, err := vols.Create(ctx, VolumeRequest{Name: name, Node: testMAC}); err != nil {
		t.Fatal(err)
	}
	vols.unseen = map[string]bool{name: true}
	st.DeleteIntent(ctx, testMAC) // this enroll's look at the intents finds none yet
	_, err := s.Enroll(ctx, EnrollRequest{MAC: testMAC, Image: "debian", Hostname: "loser"})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Enroll losing the create = %v, want busy (under way)", err)
	}
	vols.mu.Lock()
	_, kept := vols.vols[name]
	vols.mu.Unlock()
	if !kept {
		t.Fatal("the losing enroll removed the other request's volume")
	}
	if ins, _ := st.Intents(ctx); len(ins) != 1 {
		t.Errorf("intents after the loss = %+v, want the one under the MAC left to its request", ins)
	}
	// The other request stores its node and deletes its intent; a loser
	// arriving now writes an intent, loses the create, and cleans up after itself.
	st.DeleteIntent(ctx, testMAC)
	if _, err := st.Update(ctx, testMAC, func(*Node) (*Node, error) {
		return &Node{MAC: testMAC, Hostname: "winner", Image: "debian", State: StateEnrolled, Volume: name}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.createVolume(ctx, VolumeRequest{Name: name, Node: testMAC}); !errors.Is(err, ErrExists) {
		t.Errorf("a create lost after the winner's node was stored = %v, want enrolled meanwhile", err)
	}
	if ins, _ := st.Intents(ctx); len(ins) != 0 {
		t.Errorf("intents left = %+v, want none", ins)
	}
	if n, _ := st.Node(ctx, testMAC); n.Hostname != "winner" {
		t.Errorf("node = %+v, want the winner's", n)
	}
}
