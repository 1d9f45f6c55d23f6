// Package boot is bootd's domain: the machines it knows (nodes), the images
// they boot, their boot timelines, and the Service that changes them.
//
// It declares the interfaces it needs from the outside world (Store for
// persistence, Volumes for cloud disks, Catalog for images) and imports
// nothing but the standard library: no sockets, no database, no cgo. The
// protocol servers and the web layer call the Service; implementations of
// the interfaces live in boot/store (bbolt), images (the catalog) and rbd
// (Ceph volumes).
package boot
