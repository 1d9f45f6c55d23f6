package main

import (
	"strconv"

	"github.com/bootd/bootd/boot"
)

// serveConfig is bootd serve's configuration. It is read from a YAML file
// (--config), then BOOTD_* environment variables, then flags, each over the
// one before.
type serveConfig struct {
	// DataDir holds the store file and the API token.
	DataDir string `yaml:"data_dir"`
	// HTTPListen is the address of the boot listener: plain HTTP, boot
	// files and scripts only, where the machines of the boot network reach it.
	HTTPListen string `yaml:"http_listen"`
	// AdminListen is the address of the admin listener: the API, the
	// dashboard, /metrics and /healthz, over TLS unless AdminTLS is off.
	AdminListen string `yaml:"admin_listen"`
	// AdminTLS is on (the default) or off: off serves the admin listener in
	// plain HTTP, for a TLS-terminating proxy on the same host only.
	AdminTLS string `yaml:"admin_tls"`
	// AdminTLSCert and AdminTLSKey are the admin listener's certificate and
	// key (PEM); empty means bootd's own, made in the data folder at first
	// start, whose SHA-256 the CLI pins.
	AdminTLSCert string `yaml:"admin_tls_cert"`
	AdminTLSKey  string `yaml:"admin_tls_key"`
	// TrustedProxies are the addresses (CIDR prefixes, comma-separated)
	// whose X-Forwarded-For and X-Forwarded-Proto the admin listener
	// believes: a reverse proxy in front of it.
	TrustedProxies string `yaml:"trusted_proxies"`
	// SessionTTL is how long a dashboard login lasts, e.g. 2h.
	SessionTTL string `yaml:"session_ttl"`
	// NodeListen is the address of the node listener (TLS): the clock, key
	// and report endpoints of booting nodes. Empty means http_listen's host,
	// port 8443.
	NodeListen string `yaml:"node_listen"`
	// NodeTLSCert and NodeTLSKey are the node listener's certificate and key
	// (PEM); empty means bootd's own, made in the data folder at first start.
	NodeTLSCert string `yaml:"node_tls_cert"`
	NodeTLSKey  string `yaml:"node_tls_key"`
	// KeyRelease is the rule for releasing a node's Ceph key: lease, armed
	// or lease+armed (docs/security.md).
	KeyRelease string `yaml:"key_release"`
	// BootWindow is how long after bootd's DHCP saw a machine start a boot
	// its key may be released, e.g. 5m.
	BootWindow string `yaml:"boot_window"`
	// DiscoveredMax is how many discovered machines (seen, not enrolled) are
	// kept at most, the ones seen longest ago forgotten first; and
	// DiscoveredRate how many new ones are recorded per minute at most.
	DiscoveredMax  string `yaml:"discovered_max"`
	DiscoveredRate string `yaml:"discovered_rate"`
	// MaxBootsInFlight caps the boots in flight (nodes with a volume given
	// their boot script, their key not yet out); 0 means no cap.
	MaxBootsInFlight string `yaml:"max_boots_in_flight"`
	// ImagesDir is the image catalog folder; empty means the embedded example catalog.
	ImagesDir string `yaml:"images_dir"`
	// DHCPMode is off, proxy or full.
	DHCPMode string `yaml:"dhcp_mode"`
	// DHCPInterface is the network interface the DHCP server binds to.
	DHCPInterface string `yaml:"dhcp_interface"`
	// Advertise is the IPv4 address machines reach bootd at (siaddr, option
	// 54, boot URLs); empty means the DHCP interface's address, else
	// http_listen's.
	Advertise string `yaml:"advertise"`
	// InitDir holds bootd-init-amd64 and -arm64, the helpers nodes run at
	// boot; empty means the folder bootd is in.
	InitDir string `yaml:"init_dir"`
	// DHCP settings (dhcp.go): listen port, full mode's pool and options,
	// the unknown-MAC policy and the iPXE binaries.
	DHCPPort         string `yaml:"dhcp_port"`
	DHCPPoolStart    string `yaml:"dhcp_pool_start"`
	DHCPPoolEnd      string `yaml:"dhcp_pool_end"`
	DHCPNetmask      string `yaml:"dhcp_netmask"`
	DHCPRouter       string `yaml:"dhcp_router"`
	DHCPDNS          string `yaml:"dhcp_dns"`
	DHCPNTP          string `yaml:"dhcp_ntp"`
	DHCPDomain       string `yaml:"dhcp_domain"`
	DHCPLeaseTime    string `yaml:"dhcp_lease_time"`
	DHCPReservations string `yaml:"dhcp_reservations"`
	DHCPUnknown      string `yaml:"dhcp_unknown"`
	DHCPEFIBinary    string `yaml:"dhcp_efi_binary"`
	DHCPARM64Binary  string `yaml:"dhcp_arm64_binary"`
	// DHCP admission (dhcpconfig.go): who is answered, and what clients
	// that are not enrolled may hold of full mode's pool.
	DHCPClients          string `yaml:"dhcp_clients"`
	DHCPAllowOUI         string `yaml:"dhcp_allow_oui"`
	DHCPMaxOffers        string `yaml:"dhcp_max_offers"`
	DHCPMaxUnknownLeases string `yaml:"dhcp_max_unknown_leases"`
	DHCPDeclineHold      string `yaml:"dhcp_decline_hold"`
	DHCPMaxDeclined      string `yaml:"dhcp_max_declined"`
	DHCPLeaseRefresh     string `yaml:"dhcp_lease_refresh"`
	// TFTPListen is the TFTP server's address; empty means no TFTP server.
	TFTPListen string `yaml:"tftp_listen"`
	// TFTP and HTTP limits (limits.go): the unknown-address policy and the
	// caps on transfers in all and per client.
	TFTPUnknown      string `yaml:"tftp_unknown"`
	TFTPMaxTransfers string `yaml:"tftp_max_transfers"`
	TFTPMaxPerClient string `yaml:"tftp_max_per_client"`
	TFTPQueueWait    string `yaml:"tftp_queue_wait"`
	HTTPMaxDownloads string `yaml:"http_max_downloads"`
	HTTPMaxPerClient string `yaml:"http_max_per_client"`
	// IPXEDir is the folder of iPXE binaries served over TFTP and HTTP.
	IPXEDir string `yaml:"ipxe_dir"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// DashboardPasswordFile names a file (mode 0600) holding a password that
	// logs in to the dashboard besides the API token; empty means none.
	DashboardPasswordFile string `yaml:"dashboard_password_file"`
	// Store is where bootd keeps its state: bbolt (the file in DataDir, the
	// default) or rados (objects in StorePool's StoreNamespace, through the
	// Ceph settings below; statestore.go).
	Store string `yaml:"store"`
	// InstanceName names this bootd among the instances sharing a store (on
	// timeline events and in bootd status); empty means the name it made
	// once and keeps in DataDir (instance.go).
	InstanceName   string `yaml:"instance_name"`
	StorePool      string `yaml:"store_pool"`
	StoreNamespace string `yaml:"store_namespace"`
	// Ceph settings (see volumes.go): the volume backend is on when
	// CephConf or CephMonitors is set.
	CephConf            string `yaml:"ceph_conf"`
	CephMonitors        string `yaml:"ceph_monitors"`
	CephUser            string `yaml:"ceph_user"`
	CephKeyring         string `yaml:"ceph_keyring"`
	CephPool            string `yaml:"ceph_pool"`
	CephGoldenNamespace string `yaml:"ceph_golden_namespace"`
	// CephMsMode is how nodes' kernels talk to Ceph (rbd.Config.MsMode):
	// legacy (msgr v1, the default), crc, secure (encrypted), prefer-crc
	// or prefer-secure.
	CephMsMode string `yaml:"ceph_ms_mode"`
	// PowerHook is the executable nodes with power driver hook are driven
	// by (power.Hook); empty: none. PowerHookTimeout bounds one run.
	PowerHook        string `yaml:"power_hook"`
	PowerHookTimeout string `yaml:"power_hook_timeout"`
}

func defaultServeConfig() serveConfig {
	return serveConfig{
		DataDir:    defaultDataDir,
		Store:      "bbolt",
		HTTPListen: "127.0.0.1:8080",
		// AdminListen's default depends on HTTPListen (adminListenAddr).
		AdminTLS:   "on",
		SessionTTL: "2h",
		DHCPMode:   "off",
		LogLevel:   "info",
		IPXEDir:    "/usr/lib/ipxe",
		// Ceph settings left empty take rbd.Config's defaults: user bootd,
		// pool rbd, golden namespace golden.

		KeyRelease: "lease",
		BootWindow: "5m",

		DiscoveredMax:  strconv.Itoa(boot.DefaultDiscoveredMax),
		DiscoveredRate: strconv.Itoa(boot.DefaultDiscoveredRate),

		MaxBootsInFlight: strconv.Itoa(boot.DefaultMaxBootsInFlight),

		DHCPPort:      "67",
		DHCPLeaseTime: "1h",
		DHCPUnknown:   "ignore",
		DHCPEFIBinary: "snponly.efi",

		// TFTPUnknown's default depends on DHCPMode (tftpUnknown).
		TFTPMaxTransfers: "512",
		TFTPMaxPerClient: "8",
		TFTPQueueWait:    "10s",
		HTTPMaxDownloads: "512",
		HTTPMaxPerClient: "16",
		// all keeps discovery working as before; known is the hardened
		// mode (docs/dhcp.md, "Who is answered").
		DHCPClients:     "all",
		DHCPDeclineHold: "10m",
		// How often full mode learns other instances' leases (store: rados).
		DHCPLeaseRefresh: "30s",

		PowerHookTimeout: "30s",
	}
}

// configField ties a setting to its flag, its environment variable and its help.
type configField struct {
	flag, env, help string
	ptr             *string
}

func (c *serveConfig) fields() []configField {
	return []configField{
		{"data-dir", "BOOTD_DATA_DIR", "folder for the store file and the API token", &c.DataDir},
		{"store", "BOOTD_STORE", "where the state lives: bbolt (a file in the data folder) or rados (Ceph, shared by instances)", &c.Store},
		{"store-pool", "BOOTD_STORE_POOL", "with --store rados: the pool of the state's objects (default rbd)", &c.StorePool},
		{"store-namespace", "BOOTD_STORE_NAMESPACE", "with --store rados: the namespace of the state's objects (default bootd-state)", &c.StoreNamespace},
		{"instance-name", "BOOTD_INSTANCE_NAME", "this bootd's name among instances sharing a store (default: the host name and a random suffix, kept in the data folder)", &c.InstanceName},
		{"http-listen", "BOOTD_HTTP_LISTEN", "address of the boot listener, plain HTTP: boot files and scripts only", &c.HTTPListen},
		{"admin-listen", "BOOTD_ADMIN_LISTEN", "address of the admin listener: API, dashboard, /metrics, /healthz (default 127.0.0.1:9443)", &c.AdminListen},
		{"admin-tls", "BOOTD_ADMIN_TLS", "on, or off for a TLS-terminating proxy on this host (admin-listen must be loopback)", &c.AdminTLS},
		{"admin-tls-cert", "BOOTD_ADMIN_TLS_CERT", "admin listener certificate, PEM (default: bootd's own, made in the data folder)", &c.AdminTLSCert},
		{"admin-tls-key", "BOOTD_ADMIN_TLS_KEY", "admin listener key, PEM, mode 0600", &c.AdminTLSKey},
		{"trusted-proxies", "BOOTD_TRUSTED_PROXIES", "reverse proxies whose X-Forwarded-For/-Proto the admin listener believes, CIDR, comma-separated", &c.TrustedProxies},
		{"session-ttl", "BOOTD_SESSION_TTL", "how long a dashboard login lasts, e.g. 2h", &c.SessionTTL},
		{"node-listen", "BOOTD_NODE_LISTEN", "address of the node listener, TLS: key and reports of booting nodes (default: http-listen's host, port 8443)", &c.NodeListen},
		{"node-tls-cert", "BOOTD_NODE_TLS_CERT", "node listener certificate, PEM (default: bootd's own, made in the data folder)", &c.NodeTLSCert},
		{"node-tls-key", "BOOTD_NODE_TLS_KEY", "node listener key, PEM, mode 0600", &c.NodeTLSKey},
		{"key-release", "BOOTD_KEY_RELEASE", "who gets a node's Ceph key: lease, armed or lease+armed", &c.KeyRelease},
		{"boot-window", "BOOTD_BOOT_WINDOW", "how long after a machine's DHCP exchange its key may be released, e.g. 5m", &c.BootWindow},
		{"discovered-max", "BOOTD_DISCOVERED_MAX", "discovered machines kept at most; the ones seen longest ago are forgotten first", &c.DiscoveredMax},
		{"discovered-rate", "BOOTD_DISCOVERED_RATE", "new discovered machines recorded per minute at most; more are counted, not recorded", &c.DiscoveredRate},
		{"max-boots-in-flight", "BOOTD_MAX_BOOTS_IN_FLIGHT", "boots between their script and their key at most; more are told to wait and retry (0: no cap)", &c.MaxBootsInFlight},
		{"images-dir", "BOOTD_IMAGES_DIR", "image catalog folder (default: the embedded example catalog)", &c.ImagesDir},
		{"dhcp-mode", "BOOTD_DHCP_MODE", "DHCP server mode: off, proxy or full", &c.DHCPMode},
		{"dhcp-interface", "BOOTD_DHCP_INTERFACE", "network interface the DHCP server binds to", &c.DHCPInterface},
		{"tftp-listen", "BOOTD_TFTP_LISTEN", "address of the TFTP server, e.g. :69 (empty: no TFTP server)", &c.TFTPListen},
		{"tftp-unknown", "BOOTD_TFTP_UNKNOWN", "TFTP from addresses without a recent DHCP exchange: allow, limit or refuse (default: refuse, or limit with dhcp-mode off)", &c.TFTPUnknown},
		{"tftp-max-transfers", "BOOTD_TFTP_MAX_TRANSFERS", "TFTP transfers under way at most", &c.TFTPMaxTransfers},
		{"tftp-max-per-client", "BOOTD_TFTP_MAX_PER_CLIENT", "TFTP transfers under way per client address at most", &c.TFTPMaxPerClient},
		{"tftp-queue-wait", "BOOTD_TFTP_QUEUE_WAIT", "how long a known client's TFTP request waits for a place beyond tftp-max-transfers (0s: refused at once)", &c.TFTPQueueWait},
		{"http-max-downloads", "BOOTD_HTTP_MAX_DOWNLOADS", "boot listener: downloads under /boot at once at most (503 beyond)", &c.HTTPMaxDownloads},
		{"http-max-per-client", "BOOTD_HTTP_MAX_PER_CLIENT", "boot listener: downloads under /boot at once per client address at most", &c.HTTPMaxPerClient},
		{"ipxe-dir", "BOOTD_IPXE_DIR", "folder of iPXE binaries (undionly.kpxe, snponly.efi, ipxe.efi)", &c.IPXEDir},
		{"init-dir", "BOOTD_INIT_DIR", "folder of the bootd-init binaries (default: bootd's own folder)", &c.InitDir},
		{"advertise", "BOOTD_ADVERTISE", "IPv4 address machines reach bootd at (default: the DHCP interface's, else http-listen's)", &c.Advertise},
		{"dhcp-port", "BOOTD_DHCP_PORT", "DHCP server port (67; another only for tests and benchmarks)", &c.DHCPPort},
		{"dhcp-pool-start", "BOOTD_DHCP_POOL_START", "full mode: first address of the pool", &c.DHCPPoolStart},
		{"dhcp-pool-end", "BOOTD_DHCP_POOL_END", "full mode: last address of the pool", &c.DHCPPoolEnd},
		{"dhcp-netmask", "BOOTD_DHCP_NETMASK", "full mode: subnet mask (default: the interface's)", &c.DHCPNetmask},
		{"dhcp-router", "BOOTD_DHCP_ROUTER", "full mode: default gateway (option 3)", &c.DHCPRouter},
		{"dhcp-dns", "BOOTD_DHCP_DNS", "full mode: DNS servers, comma-separated (option 6)", &c.DHCPDNS},
		{"dhcp-ntp", "BOOTD_DHCP_NTP", "full mode: NTP servers, comma-separated (option 42)", &c.DHCPNTP},
		{"dhcp-domain", "BOOTD_DHCP_DOMAIN", "full mode: domain name (option 15)", &c.DHCPDomain},
		{"dhcp-lease-time", "BOOTD_DHCP_LEASE_TIME", "full mode: lease time, e.g. 1h", &c.DHCPLeaseTime},
		{"dhcp-reservations", "BOOTD_DHCP_RESERVATIONS", "full mode: fixed addresses, mac=ip,mac=ip", &c.DHCPReservations},
		{"dhcp-unknown", "BOOTD_DHCP_UNKNOWN", "unknown machines: ignore, or boot into the not-enrolled script", &c.DHCPUnknown},
		{"dhcp-efi-binary", "BOOTD_DHCP_EFI_BINARY", "iPXE binary for x64 UEFI: snponly.efi or ipxe.efi", &c.DHCPEFIBinary},
		{"dhcp-arm64-binary", "BOOTD_DHCP_ARM64_BINARY", "iPXE binary for arm64 UEFI (default: none)", &c.DHCPARM64Binary},
		{"dhcp-clients", "BOOTD_DHCP_CLIENTS", "who DHCP answers: all, or known (enrolled MACs, dhcp-allow-oui, an open discover window)", &c.DHCPClients},
		{"dhcp-allow-oui", "BOOTD_DHCP_ALLOW_OUI", "known mode: MAC prefixes answered though not enrolled, e.g. 52:54:00,b8:27:eb", &c.DHCPAllowOUI},
		{"dhcp-max-offers", "BOOTD_DHCP_MAX_OFFERS", "full mode: outstanding offers to unknown MACs (default: half the pool)", &c.DHCPMaxOffers},
		{"dhcp-max-unknown-leases", "BOOTD_DHCP_MAX_UNKNOWN_LEASES", "full mode: leases held by unknown MACs (default: a quarter of the pool)", &c.DHCPMaxUnknownLeases},
		{"dhcp-decline-hold", "BOOTD_DHCP_DECLINE_HOLD", "full mode: how long a declined address stays out of use, e.g. 10m", &c.DHCPDeclineHold},
		{"dhcp-lease-refresh", "BOOTD_DHCP_LEASE_REFRESH", "full mode with store rados: how often to learn the leases other instances made, e.g. 30s", &c.DHCPLeaseRefresh},
		{"dhcp-max-declined", "BOOTD_DHCP_MAX_DECLINED", "full mode: declined addresses out of use at once (default: an eighth of the pool; 2 per client)", &c.DHCPMaxDeclined},
		{"log-level", "BOOTD_LOG_LEVEL", "log level: debug, info, warn or error", &c.LogLevel},
		{"dashboard-password-file", "BOOTD_DASHBOARD_PASSWORD_FILE", "file (mode 0600) whose password becomes the first admin's (user admin)", &c.DashboardPasswordFile},
		{"ceph-conf", "BOOTD_CEPH_CONF", "ceph.conf to read (monitors, keyring); turns the volume backend on", &c.CephConf},
		{"ceph-monitors", "BOOTD_CEPH_MONITORS", "Ceph monitor addresses (mon_host); turns the volume backend on", &c.CephMonitors},
		{"ceph-user", "BOOTD_CEPH_USER", "bootd's Ceph user, without client. (default bootd)", &c.CephUser},
		{"ceph-keyring", "BOOTD_CEPH_KEYRING", "keyring file with the Ceph user's key", &c.CephKeyring},
		{"ceph-pool", "BOOTD_CEPH_POOL", "RBD pool of the nodes' volumes (default rbd)", &c.CephPool},
		{"ceph-golden-namespace", "BOOTD_CEPH_GOLDEN_NAMESPACE", "RBD namespace of golden images (default golden)", &c.CephGoldenNamespace},
		{"power-hook", "BOOTD_POWER_HOOK", "executable that drives the power of nodes with power driver hook (called with MAC and action)", &c.PowerHook},
		{"power-hook-timeout", "BOOTD_POWER_HOOK_TIMEOUT", "how long one run of the power hook may take, e.g. 30s", &c.PowerHookTimeout},
		{"ceph-ms-mode", "BOOTD_CEPH_MS_MODE", "how nodes map their volumes: legacy (msgr v1, default), crc, secure (encrypted msgr2), prefer-crc or prefer-secure", &c.CephMsMode},
	}
}
