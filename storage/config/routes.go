// routes.go: dynamic routes (model "dynamic/<name>"), their immutable versions and their
// deployments, as config resources. A route's graph is kept as the JSON elements the
// control API received; this package never reads them (storage does not import flows):
// the server validates them with flows and passes the verdict in as `valid`.
//
// Events: three resources, so that no event re-writes what an earlier one wrote.
//   - "route": create carries the route head plus its first version and the deployment of
//     that version (creating a route deploys it, atomically, in one event); update is a
//     rename (the head only); delete drops the route with its versions and deployments.
//   - "route_version": create only, one event per version, with its elements.
//   - "route_deployment": create only, one event per deployment (old: the deployment it
//     replaced); deploying an older version is the rollback.
//
// In the snapshot a Route value holds its versions and deployments; a new version or
// deployment publishes a new Route value (copying that route's slices of pointers only),
// so a snapshot copy stays O(routes) and every published value stays immutable.
package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/switchyard/switchyard/events"
)

// Resource names of this file, in events and audit entries.
const (
	ResRoute           = "route"
	ResRouteVersion    = "route_version"
	ResRouteDeployment = "route_deployment"
)

// maxRouteNameLen bounds a route name (it is written as model "dynamic/<name>").
const maxRouteNameLen = 64

// Route is a dynamic route of one gateway. The exported fields are what its events store;
// the versions and deployments are kept with it by the projection.
type Route struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account_id"`
	GatewayID  string    `json:"gateway_id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	ModifiedAt time.Time `json:"modified_at"` // the last rename, version or deployment

	versions    []*RouteVersion    // oldest first
	deployments []*RouteDeployment // oldest first; the last one is in force
	deployed    *RouteVersion      // the version of the last deployment
}

// RouteVersion is one immutable graph of a route. Elements is the JSON array as sent
// (compacted); Valid says whether it compiled when it was created (a draft when false).
type RouteVersion struct {
	ID        string          `json:"id"`
	RouteID   string          `json:"route_id"`
	Elements  json.RawMessage `json:"elements"`
	Valid     bool            `json:"valid"`
	CreatedAt time.Time       `json:"created_at"`
}

// RouteDeployment makes a version the one requests walk, from CreatedAt on.
type RouteDeployment struct {
	ID        string    `json:"id"`
	RouteID   string    `json:"route_id"`
	VersionID string    `json:"version_id"`
	CreatedAt time.Time `json:"created_at"`
}

// routeEvent is the "new" value of a route event: the head, and on create the first
// version and its deployment.
type routeEvent struct {
	Route
	Version    *RouteVersion    `json:"version,omitempty"`
	Deployment *RouteDeployment `json:"deployment,omitempty"`
}

// Versions lists the route's versions, oldest first.
func (r *Route) Versions() []*RouteVersion { return r.versions }

// Deployments lists the route's deployments, oldest first (the last one is in force).
func (r *Route) Deployments() []*RouteDeployment { return r.deployments }

// Deployed is the version in force and its deployment (nil, nil when there is none).
func (r *Route) Deployed() (*RouteVersion, *RouteDeployment) {
	if len(r.deployments) == 0 {
		return nil, nil
	}
	return r.deployed, r.deployments[len(r.deployments)-1]
}

// Version finds one of the route's versions by id, or nil.
func (r *Route) Version(id string) *RouteVersion {
	for _, v := range r.versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func (r *Route) owner() (string, string, string, time.Time) {
	return r.AccountID, r.GatewayID, r.ID, r.CreatedAt
}

// withVersion is a copy of r with version v added.
func (r *Route) withVersion(v *RouteVersion) *Route {
	next := *r
	next.versions = append(r.versions[:len(r.versions):len(r.versions)], v)
	next.ModifiedAt = v.CreatedAt
	return &next
}

// withDeployment is a copy of r with deployment d in force; false when d names a version
// r does not have.
func (r *Route) withDeployment(d *RouteDeployment) (*Route, bool) {
	v := r.Version(d.VersionID)
	if v == nil {
		return nil, false
	}
	next := *r
	next.deployments = append(r.deployments[:len(r.deployments):len(r.deployments)], d)
	next.deployed = v
	next.ModifiedAt = d.CreatedAt
	return &next, true
}

// validRouteName: 1–64 characters of valid UTF-8, not all blank, no control characters.
// The hosted API takes any string (cloudflare-go sends "Route Name"); the name is written
// as model "dynamic/<name>", and a model string splits at its first '/', so any text works.
func validRouteName(s string) bool {
	if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > maxRouteNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func routeNameKey(acct, gw, name string) string { return acct + "/" + gw + "/" + name }

// checkRouteName refuses a malformed name, or one another route of the gateway has.
func checkRouteName(snap *Snapshot, acct, gw, name, self string) *Error {
	if !validRouteName(name) {
		return invalid("name must be 1-64 characters, not blank, without control characters (it is used as model \"dynamic/<name>\")", "body", "name")
	}
	if other := snap.RouteNamed(acct, gw, name); other != nil && other.ID != self {
		return &Error{Status: 409, Code: CodeConflict, Message: "gateway " + gw + " already has a route named " + name, Path: []string{"body", "name"}}
	}
	return nil
}

// routeElements checks that elements is a JSON array and answers it compacted.
func routeElements(elements json.RawMessage) (json.RawMessage, *Error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, elements); err != nil || buf.Len() == 0 || buf.Bytes()[0] != '[' {
		return nil, invalid("elements must be a JSON array of route elements", "body", "elements")
	}
	return buf.Bytes(), nil
}

func routeNotFound(id string) *Error { return notFound("route "+id, "path", "id") }

// CreateRoute creates a route named name on a gateway with its first version (elements,
// which must be valid) and deploys that version, in one event. The answer's Deployed()
// is that version and deployment.
func (s *Service) CreateRoute(ctx context.Context, actor events.Actor, acct, gw, name string, elements json.RawMessage, valid bool) (*Route, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		if snap.Gateway(acct, gw) == nil {
			return nil, gatewayNotFound(gw)
		}
		if e := checkRouteName(snap, acct, gw, name, ""); e != nil {
			return nil, e
		}
		els, e := routeElements(elements)
		if e != nil {
			return nil, e
		}
		if !valid {
			return nil, invalid("the route's elements do not form a valid route: a route is created only with a valid first version", "body", "elements")
		}
		now := s.Now().UTC()
		ev := routeEvent{Route: Route{ID: uuid.NewString(), AccountID: acct, GatewayID: gw, Name: name, CreatedAt: now, ModifiedAt: now}}
		ev.Version = &RouteVersion{ID: uuid.NewString(), RouteID: ev.ID, Elements: els, Valid: true, CreatedAt: now}
		ev.Deployment = &RouteDeployment{ID: uuid.NewString(), RouteID: ev.ID, VersionID: ev.Version.ID, CreatedAt: now}
		route, err := ev.created()
		if err != nil {
			return nil, writeFailed(err)
		}
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResRoute, ResourceID: ev.ID,
			AccountID: acct, GatewayID: gw, Old: []byte("null"), New: mustJSON(ev)}, result: route}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Route), nil
}

// RenameRoute gives a route a new name (still unique on its gateway).
func (s *Service) RenameRoute(ctx context.Context, actor events.Actor, acct, gw, id, name string) (*Route, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Route(acct, gw, id)
		if old == nil {
			return nil, routeNotFound(id)
		}
		if e := checkRouteName(snap, acct, gw, name, id); e != nil {
			return nil, e
		}
		next := *old
		next.Name, next.ModifiedAt = name, s.Now().UTC()
		return &change{ev: events.ConfigChanged{Action: "update", Resource: ResRoute, ResourceID: id,
			AccountID: acct, GatewayID: gw, Old: mustJSON(old), New: mustJSON(routeEvent{Route: next})}, result: &next}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Route), nil
}

// DeleteRoute deletes a route with its versions and deployments; the answer is the route
// as it was.
func (s *Service) DeleteRoute(ctx context.Context, actor events.Actor, acct, gw, id string) (*Route, error) {
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Route(acct, gw, id)
		if old == nil {
			return nil, routeNotFound(id)
		}
		return &change{ev: events.ConfigChanged{Action: "delete", Resource: ResRoute, ResourceID: id,
			AccountID: acct, GatewayID: gw, Old: mustJSON(old), New: []byte("null")}, result: old}, nil
	})
	if err != nil {
		return nil, err
	}
	return r.(*Route), nil
}

// CreateRouteVersion adds a version to a route without deploying it. An invalid graph is
// kept as a draft (Valid false) that cannot be deployed.
func (s *Service) CreateRouteVersion(ctx context.Context, actor events.Actor, acct, gw, routeID string, elements json.RawMessage, valid bool) (*Route, *RouteVersion, error) {
	var v *RouteVersion
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Route(acct, gw, routeID)
		if old == nil {
			return nil, routeNotFound(routeID)
		}
		els, e := routeElements(elements)
		if e != nil {
			return nil, e
		}
		v = &RouteVersion{ID: uuid.NewString(), RouteID: routeID, Elements: els, Valid: valid, CreatedAt: s.Now().UTC()}
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResRouteVersion, ResourceID: v.ID,
			AccountID: acct, GatewayID: gw, Old: []byte("null"), New: mustJSON(v)}, result: old.withVersion(v)}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return r.(*Route), v, nil
}

// DeployRouteVersion puts one of a route's versions in force; valid is the server's verdict
// on its graph now (an invalid one is refused). Deploying an older version is the rollback.
func (s *Service) DeployRouteVersion(ctx context.Context, actor events.Actor, acct, gw, routeID, versionID string, valid bool) (*Route, *RouteDeployment, error) {
	var d *RouteDeployment
	r, err := s.write(ctx, actor, func(snap *Snapshot) (*change, error) {
		old := snap.Route(acct, gw, routeID)
		if old == nil {
			return nil, routeNotFound(routeID)
		}
		if old.Version(versionID) == nil {
			return nil, notFound("version "+versionID+" of route "+routeID, "body", "version_id")
		}
		if !valid {
			return nil, invalid("version "+versionID+" is not a valid route and cannot be deployed", "body", "version_id")
		}
		_, prev := old.Deployed()
		d = &RouteDeployment{ID: uuid.NewString(), RouteID: routeID, VersionID: versionID, CreatedAt: s.Now().UTC()}
		next, _ := old.withDeployment(d)
		return &change{ev: events.ConfigChanged{Action: "create", Resource: ResRouteDeployment, ResourceID: d.ID,
			AccountID: acct, GatewayID: gw, Old: mustJSON(prev), New: mustJSON(d)}, result: next}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return r.(*Route), d, nil
}

// created builds the route a create event describes.
func (ev routeEvent) created() (*Route, error) {
	if ev.Version == nil || ev.Deployment == nil || ev.Version.RouteID != ev.ID || ev.Deployment.RouteID != ev.ID {
		return nil, fmt.Errorf("route %s created without its first version and deployment", ev.ID)
	}
	head := ev.Route
	r, ok := head.withVersion(ev.Version).withDeployment(ev.Deployment)
	if !ok {
		return nil, fmt.Errorf("route %s: first deployment names version %s, not its first version", ev.ID, ev.Deployment.VersionID)
	}
	r.ModifiedAt = head.ModifiedAt
	return r, nil
}

// Route returns a gateway's route by id, or nil.
func (s *Snapshot) Route(acct, gw, id string) *Route { return scopedGet(s.routes, acct, gw, id) }

// RouteNamed returns a gateway's route by name, or nil: one map lookup, for the data plane.
func (s *Snapshot) RouteNamed(acct, gw, name string) *Route {
	return s.routeNames[routeNameKey(acct, gw, name)]
}

// Routes lists a gateway's routes, newest first.
func (s *Snapshot) Routes(acct, gw string) []*Route { return scopedList(s.routes, acct, gw) }

// DeployedVersion is the version of a route in force and its deployment (nil, nil when
// the route does not exist).
func (s *Snapshot) DeployedVersion(acct, gw, routeID string) (*RouteVersion, *RouteDeployment) {
	r := s.Route(acct, gw, routeID)
	if r == nil {
		return nil, nil
	}
	return r.Deployed()
}

// RouteVersion returns one version of a gateway's route, or nil.
func (s *Snapshot) RouteVersion(acct, gw, routeID, versionID string) *RouteVersion {
	r := s.Route(acct, gw, routeID)
	if r == nil {
		return nil
	}
	return r.Version(versionID)
}

// putRoute publishes r in the next snapshot, by id and by name.
func (s *Snapshot) putRoute(r *Route) {
	if old := s.routes[r.ID]; old != nil {
		delete(s.routeNames, routeNameKey(old.AccountID, old.GatewayID, old.Name))
	}
	s.routes[r.ID] = r
	s.routeNames[routeNameKey(r.AccountID, r.GatewayID, r.Name)] = r
}

func (s *Snapshot) dropRoute(id string) {
	if old := s.routes[id]; old != nil {
		delete(s.routeNames, routeNameKey(old.AccountID, old.GatewayID, old.Name))
		delete(s.routes, id)
	}
}

// applyRoute applies a route, route_version or route_deployment event to the next snapshot.
func (s *Snapshot) applyRoute(c events.ConfigChanged) error {
	if c.Resource == ResRoute && c.Action == "delete" {
		s.dropRoute(c.ResourceID)
		return nil
	}
	// the route an event is about, which must be of the event's gateway
	routeOf := func(id string) (*Route, error) {
		r := s.Route(c.AccountID, c.GatewayID, id)
		if r == nil {
			return nil, fmt.Errorf("%s %s: no route %s on gateway %s/%s", c.Resource, c.ResourceID, id, c.AccountID, c.GatewayID)
		}
		return r, nil
	}
	switch c.Resource {
	case ResRoute:
		var ev routeEvent
		if err := json.Unmarshal(c.New, &ev); err != nil {
			return err
		}
		if c.Action == "create" {
			r, err := ev.created()
			if err != nil {
				return err
			}
			s.putRoute(r)
			return nil
		}
		old, err := routeOf(c.ResourceID)
		if err != nil {
			return err
		}
		next := *old
		next.Name, next.ModifiedAt = ev.Name, ev.ModifiedAt
		s.putRoute(&next)
	case ResRouteVersion:
		var v RouteVersion
		if err := json.Unmarshal(c.New, &v); err != nil {
			return err
		}
		old, err := routeOf(v.RouteID)
		if err != nil {
			return err
		}
		s.putRoute(old.withVersion(&v))
	case ResRouteDeployment:
		var d RouteDeployment
		if err := json.Unmarshal(c.New, &d); err != nil {
			return err
		}
		old, err := routeOf(d.RouteID)
		if err != nil {
			return err
		}
		next, ok := old.withDeployment(&d)
		if !ok {
			return fmt.Errorf("route deployment %s: route %s has no version %s", d.ID, d.RouteID, d.VersionID)
		}
		s.putRoute(next)
	}
	return nil
}

// dropGatewayRoutes removes a deleted gateway's routes (with their versions and deployments).
func (s *Snapshot) dropGatewayRoutes(acct, gw string) {
	for id, r := range s.routes {
		if r.AccountID == acct && r.GatewayID == gw {
			s.dropRoute(id)
		}
	}
}
