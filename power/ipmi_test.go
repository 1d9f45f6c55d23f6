package power_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/power"
	"github.com/bootd/bootd/power/powertest"
	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
)

var testMAC, _ = boot.ParseMAC("52:54:00:12:34:56")

// TestIPMI drives a real ipmi_sim (OpenIPMI) over IPMI v2.0 lanplus: status,
// on, off, cycle and the one-time network boot flag.
func TestIPMI(t *testing.T) {
	t.Parallel()
	sim := powertest.StartSim(t, "admin", "s3cret-pw")
	tgt := power.Target{MAC: testMAC, Address: sim.Addr, User: "admin", Password: "s3cret-pw"}
	d := power.IPMI{}
	ctx := context.Background()
	steps := []struct {
		action boot.PowerAction
		want   boot.PowerState
		sim    string // the machine's power after it
	}{
		{boot.PowerStatus, boot.PowerStateOff, "0"},
		{boot.PowerOn, boot.PowerStateOn, "1"},
		{boot.PowerStatus, boot.PowerStateOn, "1"},
		{boot.PowerOff, boot.PowerStateOff, "0"},
		{boot.PowerCycle, boot.PowerStateOn, "1"}, // off: a cycle powers it up
	}
	for _, s := range steps {
		got, err := d.Do(ctx, tgt, s.action)
		if err != nil || got != s.want || sim.Power() != s.sim {
			t.Fatalf("Do(%s) = %v, %v (sim power %s), want %v (sim power %s)", s.action, got, err, sim.Power(), s.want, s.sim)
		}
	}
	// A cycle of a machine that is on: the BMC powers it down (and up
	// again after its own delay, ipmi_sim's power-on timer).
	if _, err := d.Do(ctx, tgt, boot.PowerCycle); err != nil {
		t.Fatalf("Do(cycle) of a machine that is on: %v", err)
	}
	if calls := sim.Calls(); calls[len(calls)-2] != "set power 0" {
		t.Errorf("a cycle of a machine that is on: chassis calls %q, want a power down", calls)
	}
	if _, err := d.Do(ctx, tgt, boot.PowerNetbootOnce); err != nil {
		t.Fatalf("Do(netboot-once) = %v", err)
	}
	if sim.Boot() != "pxe" {
		t.Errorf("boot device after netboot-once = %q, want pxe", sim.Boot())
	}
	// The flag as the BMC keeps it: PXE, for the next boot only. (ipmi_sim
	// does not give back the "valid" bit it was sent, so it is not checked.)
	c, err := client.NewClient("127.0.0.1", port(t, sim.Addr), "admin", "s3cret-pw")
	if err != nil {
		t.Fatal(err)
	}
	c.WithCipherSuiteID(types.CipherSuiteID3)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	flags := &types.BootOptionParam_BootFlags{}
	if err := c.GetSystemBootOptionsParamFor(ctx, flags); err != nil {
		t.Fatal(err)
	}
	if flags.Persist || flags.BootDeviceSelector != types.BootDeviceSelectorForcePXE {
		t.Errorf("boot flags = persist %v device %v, want once, PXE", flags.Persist, flags.BootDeviceSelector)
	}
}

// TestIPMIWrongPassword: a wrong password is ErrAuth at once, the BMC is
// asked two logins (cipher suites 17 and 3) and no more, and the
// Controller does not ask it again within its hold.
func TestIPMIWrongPassword(t *testing.T) {
	t.Parallel()
	sim := powertest.StartSim(t, "admin", "s3cret-pw")
	key := testKey(t)
	logins := 0
	ipmi := power.IPMI{}
	c, err := power.New(power.Config{Key: key, Drivers: map[string]power.Driver{boot.DriverIPMI: power.DriverFunc(
		func(ctx context.Context, tgt power.Target, a boot.PowerAction) (boot.PowerState, error) {
			logins++
			return ipmi.Do(ctx, tgt, a)
		})}})
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := key.Seal(testMAC, "wrong")
	n := &boot.Node{MAC: testMAC, Power: &boot.PowerSettings{Driver: boot.DriverIPMI, Address: sim.Addr, User: "admin", Secret: sealed}}
	start := time.Now()
	_, err = c.Power(context.Background(), n, boot.PowerOn)
	if !errors.Is(err, power.ErrAuth) || !errors.Is(err, boot.ErrPower) {
		t.Fatalf("Power(on) with a wrong password = %v, want ErrAuth", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a refused login took %s", took)
	}
	if !strings.Contains(err.Error(), "refused the user name or password") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q: want it to say the password was refused, without the password", err)
	}
	_, err = c.Power(context.Background(), n, boot.PowerOn)
	if !errors.Is(err, power.ErrAuth) || logins != 1 {
		t.Errorf("second Power(on) = %v after %d logins, want ErrAuth without asking the BMC again", err, logins)
	}
	if slices.Contains(sim.Calls(), "set power 1") {
		t.Errorf("the machine was powered on with a wrong password: %q", sim.Calls())
	}
	// The right password is not held back.
	n.Power.Secret, _ = key.Seal(testMAC, "s3cret-pw")
	if st, err := c.Power(context.Background(), n, boot.PowerOn); err != nil || st != boot.PowerStateOn {
		t.Errorf("Power(on) with the right password = %v, %v", st, err)
	}
}

// TestIPMIUnreachable: no BMC at the address is ErrTemporary, tried a
// bounded number of times.
func TestIPMIUnreachable(t *testing.T) {
	t.Parallel()
	d := power.IPMI{Timeout: 200 * time.Millisecond}
	_, err := d.Do(context.Background(), power.Target{MAC: testMAC, Address: "127.0.0.1:1", User: "u", Password: "p"}, boot.PowerStatus)
	if !errors.Is(err, power.ErrTemporary) {
		t.Fatalf("Do against nothing = %v, want ErrTemporary", err)
	}
}
