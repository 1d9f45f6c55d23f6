//go:build cgo

// Package radosstore keeps bootd's state in RADOS objects of one pool and
// namespace of a Ceph cluster, so that several bootd instances can share
// it. It implements the same interfaces as the bbolt store (boot/store):
// boot.Store (nodes, timelines, intents), the DHCP server's lease store,
// access.UserStore, access.AuditLog and boot.InstanceStore; and, for
// several instances, boot.SessionStore (the trust chain's boots under way)
// and boot.ChangeFeed (live changes between instances, feed.go).
//
// Layout, in the configured pool and namespace (default rbd, bootd-state):
//
//	node.<mac>   data: header, then the boot.Node as JSON (no JSON: no node,
//	             only a timeline); omap: the timeline, one boot.Event as
//	             JSON per key "%08x%08x" (boot number, event number)
//	session.<mac> data: header, then the machine's boot.Session as JSON
//	             (tokens and report secret as SHA-256 digests)
//	intents      data: header, then every boot.Intent as a JSON object by MAC
//	lease.<xx>   256 shards of the DHCP leases, by the address's last byte
//	             (hex); data: header; omap: one lease per key (the address,
//	             as text), value: expiry (8 bytes, Unix nanoseconds,
//	             big-endian), then the MAC. A lease is a claim: the key is
//	             checked and written under a compare of the header (leases.go)
//	instances    omap: one boot.Instance (a bootd's heartbeat) as JSON per
//	             key, the instance's name
//	users        data: header, then every user (and its tokens) as JSON
//	audit        data: header, then the last sequence number; omap: one
//	             access.Record as JSON per key "%016x%016x" (time, sequence)
//	changes      data: header only; every instance watches it and notifies
//	             on it after each change it makes
//
// The header is 16 hex digits of a random generation and a newline. Every
// change to an object is one RADOS write operation, which the OSD applies
// whole or not at all: it compares the header read before (cmpext) or
// creates the object exclusively, writes the new header and body, and sets
// or removes omap keys in the same operation. When another instance wrote
// in between, the comparison fails, nothing is written, and the change is
// read and computed again: Update's fn may run more than once. A random
// generation (not a counter) means that an object deleted and made again is
// never mistaken for the one read before.
//
// No change spans two objects, so none needs a lock: a node and its
// timeline share one object (an event that changes the node is one write),
// and the list of nodes is the listing of the namespace's node.* objects,
// not a second object to keep in step.
//
// There is no cache: every read goes to the OSD, so one instance sees
// another's change at once. (The bbolt store caches decoded nodes because
// it alone writes its file.) The watch/notify on "changes" only tells the
// other instances' dashboards and caches which machines to read again.
//
// The package needs cgo (go-ceph): built without it, it is empty.
package radosstore
