// Package rbd keeps nodes' root volumes in Ceph RBD through go-ceph
// (librados and librbd): it implements boot.Volumes, and is bootd's only cgo
// package.
//
// Layout in the cluster, for a node whose volume is called node-525400123456
// and bootd's pool rbd:
//
//	rbd/golden/debian-12@v1            golden image and protected snapshot (the image's definition names them)
//	rbd/node-525400123456/             the node's RBD namespace
//	rbd/node-525400123456/root         its root: a clone of the golden snapshot
//	rbd/node-525400123456/root@snap    its snapshots
//	rbd/node-525400123456/kept.NAME    earlier roots kept by a reimage
//	client.node-525400123456           its Ceph user: writes only its namespace, reads only the golden one
//
// A Client holds one cluster connection, shared by concurrent calls. Every
// call checks its context before each step; each step is bounded by the
// librados operation timeout (Config.Timeout). Building needs a Ceph
// release tag with go-ceph: -tags pacific on Ceph 16 (the Makefile picks it).
//
// Example:
//
//	c, err := rbd.Open(rbd.Config{ConfFile: "/etc/ceph/ceph.conf", User: "bootd",
//		KeyringFile: "/etc/ceph/ceph.client.bootd.keyring", Pool: "rbd"})
//	...
//	svc, err := boot.NewService(boot.Config{Store: db, Catalog: cat, Volumes: c})
package rbd
