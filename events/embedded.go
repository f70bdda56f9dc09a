// embedded.go runs the in-process NATS server with JetStream: alone for a single node, or
// joined with the embedded servers of other gateway nodes into one JetStream cluster.
package events

import (
	"cmp"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configures the in-process NATS server.
type EmbeddedOptions struct {
	// StoreDir is where JetStream keeps its file storage.
	StoreDir string
	// ListenAddr, when not empty ("127.0.0.1:4222"), also opens a TCP listener so other
	// processes can reach the log; empty means in-process connections only.
	ListenAddr string
	// ServerName names the server in its cluster (the gateway's node id); it must be
	// unique in the cluster and stable across restarts. Default "switchyard".
	ServerName string
	// ClusterListen, when not empty ("0.0.0.0:6222"), joins the server to a cluster: it
	// accepts routes from the other servers on this address and dials Routes.
	ClusterListen string
	// ClusterName is the cluster's name, the same on every server (default "switchyard").
	ClusterName string
	// Routes are the cluster addresses of the servers, itself included
	// ("nats://sy1:6222"): JetStream sizes its meta group from them.
	Routes []string
}

// Embedded is a running in-process NATS server.
type Embedded struct {
	srv     *server.Server
	servers int
}

// StartEmbedded starts a NATS server with JetStream and waits until it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	name := o.ServerName
	if name == "" {
		name = "switchyard"
	}
	opts := &server.Options{
		ServerName: name,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		DontListen: o.ListenAddr == "",
	}
	if o.ListenAddr != "" {
		host, port, err := splitHostPort(o.ListenAddr)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	servers := 1
	if o.ClusterListen != "" {
		host, port, err := splitHostPort(o.ClusterListen)
		if err != nil {
			return nil, err
		}
		routes, err := parseRoutes(o.Routes)
		if err != nil {
			return nil, err
		}
		opts.Cluster = server.ClusterOpts{Name: cmp.Or(o.ClusterName, "switchyard"), Host: host, Port: port}
		if opts.DontListen { // routing starts only once a client listener is open
			opts.DontListen, opts.Host, opts.Port = false, "127.0.0.1", server.RANDOM_PORT
		}
		opts.Routes = routes
		servers = max(len(routes), 1)
	} else if len(o.Routes) > 0 {
		return nil, fmt.Errorf("embedded nats: routes given without a cluster listen address")
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 30s")
	}
	return &Embedded{srv: ns, servers: servers}, nil
}

// Servers is how many servers the embedded server's cluster has (1 when it is alone), as
// its routes say.
func (e *Embedded) Servers() int { return e.servers }

// parseRoutes checks the cluster addresses: nats://host:port each.
func parseRoutes(rs []string) ([]*url.URL, error) {
	var out []*url.URL
	for _, r := range rs {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "nats" || u.Hostname() == "" || u.Port() == "" {
			return nil, fmt.Errorf("embedded nats: bad route %q: want nats://host:port", r)
		}
		out = append(out, u)
	}
	return out, nil
}

// Shutdown stops the server and waits for it to finish.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("bad listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("bad listen address %q: %w", addr, err)
	}
	return host, port, nil
}
