// Package server is the data plane's fasthttp front end: it answers health checks and
// /metrics, passes /dashboard to the dashboard's handler, parses and validates data-plane requests (/v1/...) into engine.Requests and
// hands them to the Dispatcher, and passes the control API (/client/v4/...) to the handler
// it is given (engine/controlapi). No business logic lives here.
package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/compat"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// Options configures the front end.
type Options struct {
	Dispatcher engine.Dispatcher
	// Sessions records realtime WebSocket sessions.
	Sessions  engine.SessionRecorder
	Providers providers.Table
	// Control answers the control API (/client/v4/...: engine/controlapi); nil: 404.
	Control fasthttp.RequestHandler
	// Dashboard serves /dashboard and below (package dashboard); GET / redirects there. nil: 404.
	Dashboard fasthttp.RequestHandler
	// Config is the configuration: the data plane reads its snapshot (and creates the
	// default gateway through it); AdminToken is the bootstrap admin token, valid as a
	// gateway token too.
	Config     *config.Service
	AdminToken string
	// Compat is what the unified API needs to build provider calls (Vertex token exchange).
	Compat *compat.Env
	// SocketInFlight bounds the requests running at once on one non-realtime WebSocket
	// (256 when zero); SocketPing is how often the gateway pings it (30 s when zero).
	SocketInFlight int
	SocketPing     time.Duration
	// Spend reads what a gateway has spent, for its spend limits (nil: limits unchecked).
	Spend SpendReader
	// MaxBody is the largest request body accepted (413 above). Zero means 25 MB.
	MaxBody int
	Logger  *slog.Logger
	// GuardClient makes the guardrails' guard model calls (cmd passes the forwarder's
	// client); nil builds one that lets only the SWITCHYARD_UPSTREAM_* hosts be loopback.
	GuardClient *fasthttp.Client
	// Node is this node's id, shown by /readyz; Lag, when set, is how many events in the
	// log the projections have not applied yet, also shown there.
	Node string
	Lag  func(ctx context.Context) (uint64, error)
	// MetricsToken, when set, is the bearer token a scraper must present at /metrics
	// (served once SetMetrics gives it a handler; 404 before).
	MetricsToken string
}

// Server is the running front end.
type Server struct {
	opts     Options
	ready    atomic.Bool
	keyLimit engine.KeyLimiter
	spend    spendGuard
	routes   compiledRoutes
	dlp      dlpChecks
	// metricsHandler serves /metrics (SetMetrics), nil when metrics are off.
	metricsHandler fasthttp.RequestHandler
	guard          guardChecks
	srv            *fasthttp.Server
}

// New builds the front end.
func New(o Options) *Server {
	if o.MaxBody == 0 {
		o.MaxBody = 25 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{opts: o}
	s.srv = &fasthttp.Server{
		Handler:                      s.handle,
		ErrorHandler:                 s.readError,
		Logger:                       printfLogger{o.Logger},
		Name:                         "switchyard",
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		StreamRequestBody:            true,
		MaxRequestBodySize:           1 << 40, // bodies stream; the 413 is ours (parse)
		ReadBufferSize:               16 << 10,
		IdleTimeout:                  2 * time.Minute,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
	}
	return s
}

// SetReady flips /readyz to 200.
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(lingerListener{ln}) }

// Shutdown stops accepting connections and waits for in-flight requests, up to ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.ready.Store(false)
	return s.srv.ShutdownWithContext(ctx)
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.URI().PathOriginal()
	switch {
	case bytes.HasPrefix(path, []byte("/v1/")):
		s.dataPlane(ctx, path)
	case bytes.HasPrefix(path, []byte("/client/v4/")) && s.opts.Control != nil:
		s.opts.Control(ctx)
	case s.opts.Dashboard != nil && (string(path) == "/dashboard" || bytes.HasPrefix(path, []byte("/dashboard/"))):
		s.opts.Dashboard(ctx)
	case s.opts.Dashboard != nil && string(path) == "/" && (ctx.IsGet() || ctx.IsHead()):
		ctx.Redirect("/dashboard/", fasthttp.StatusFound)
	case string(path) == "/healthz":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
	case string(path) == "/metrics" && s.metricsHandler != nil:
		s.metrics(ctx)
	case string(path) == "/readyz":
		s.readyz(ctx)
	default:
		writeError(ctx, engine.Errorf(404, engine.CodeMalformedPath, "no such endpoint; data-plane URLs start with /v1/{account_id}/{gateway_id}/"))
	}
}

// metrics serves the Prometheus metrics, to the holder of the metrics token when one is set.
func (s *Server) metrics(ctx *fasthttp.RequestCtx) {
	if s.opts.MetricsToken != "" {
		if t, ok := config.Bearer(ctx.Request.Header.Peek("Authorization")); !ok || subtle.ConstantTimeCompare([]byte(t), []byte(s.opts.MetricsToken)) != 1 {
			writeError(ctx, engine.Errorf(401, engine.CodeUnauthorized, "/metrics needs the metrics token as a bearer token (--metrics-token)"))
			return
		}
	}
	s.metricsHandler(ctx)
}

// SetMetrics serves h at /metrics; call it before Serve.
func (s *Server) SetMetrics(h fasthttp.RequestHandler) { s.metricsHandler = h }

// readError answers a request fasthttp could not read, in the gateway's error shape
// rather than fasthttp's plain text: headers over the read buffer get a 431 (code 2021),
// anything else a 400 (code 2006). The connection is closed after it, lingering so that
// the answer is not lost to a reset (linger.go); nothing is logged, as no gateway is known yet.
func (s *Server) readError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var e *engine.GatewayError
	var ne *net.OpError
	switch {
	case errors.As(err, &small):
		e = engine.Errorf(431, engine.CodeHeaderTooLarge, "the request's headers are larger than the gateway reads ("+strconv.Itoa(s.srv.ReadBufferSize>>10)+" KB with the request line)")
	case errors.As(err, &ne) && ne.Timeout():
		e = engine.Errorf(408, engine.CodeBadRequest, "the request was not received in time")
	default:
		e = engine.Errorf(400, engine.CodeBadRequest, "the request is not valid HTTP/1.1")
	}
	lingerOnClose(ctx.Conn())
	s.reject(ctx, e)
}

func writeError(ctx *fasthttp.RequestCtx, e *engine.GatewayError) {
	setRetryAfter(ctx, e)
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("application/json")
	ctx.SetBody(e.JSON())
}

// setRetryAfter puts a refusal's Retry-After header on the answer.
func setRetryAfter(ctx *fasthttp.RequestCtx, e *engine.GatewayError) {
	if e != nil && e.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
}

// printfLogger hands fasthttp's own messages (such as a connection closed because an
// upstream answer was cut while it was relayed) to the gateway's logger.
type printfLogger struct{ l *slog.Logger }

func (p printfLogger) Printf(format string, args ...any) { p.l.Warn(fmt.Sprintf(format, args...)) }

// readyz answers 200 once the node has caught up with the log at start (503 before and
// from the start of shutdown), with the node's id and how many events its projections
// have not applied yet.
func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	status := "ready"
	if !s.ready.Load() {
		ctx.SetStatusCode(503)
		status = "starting"
	}
	out := map[string]any{"status": status}
	if s.opts.Node != "" {
		out["node"] = s.opts.Node
	}
	if s.opts.Lag != nil {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if lag, err := s.opts.Lag(c); err == nil {
			out["lag_events"] = lag
		} else {
			out["lag_error"] = err.Error()
		}
	}
	b, _ := json.Marshal(out)
	ctx.SetBody(b)
}
