// dynamic.go resolves model "dynamic/{name}" on the unified API (and on the universal
// endpoint's compat steps): the gateway's route of that name, its deployed version
// compiled once (versions never change, so the compiled graph is cached by version id),
// and the engine.RouteRun the request walks, whose model nodes are planned like any
// other unified-API model. The version is fixed here, when the request arrives: a
// deployment made while it runs applies from the next request on.
package server

import (
	"strconv"
	"sync"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/compat"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/storage/config"
)

// compiledRoutes caches compiled route versions by version id.
type compiledRoutes struct{ m sync.Map }

// graph compiles a version's elements, once.
func (c *compiledRoutes) graph(v *config.RouteVersion) (*flows.Graph, error) {
	if g, ok := c.m.Load(v.ID); ok {
		return g.(*flows.Graph), nil
	}
	els, err := flows.ParseElements(v.Elements)
	if err != nil {
		return nil, err
	}
	g, problems := flows.Compile(els)
	if problems != nil {
		return nil, problems
	}
	c.m.Store(v.ID, g)
	return g, nil
}

// dynamicRoute puts the deployed version of the named route on t.
func (s *Server) dynamicRoute(snap *config.Snapshot, req *engine.Request, t *engine.Target, plan *compat.Plan, body []byte, header func(string) string) *engine.GatewayError {
	rt := snap.RouteNamed(req.AccountID, req.GatewayID, plan.Model)
	var v *config.RouteVersion
	if rt != nil {
		v, _ = snap.DeployedVersion(req.AccountID, req.GatewayID, rt.ID)
	}
	if v == nil {
		return unifiedError(engine.CodeBadRequest, &compat.Error{Status: 404, Type: "invalid_request_error", Code: "route_not_found", Param: "model",
			Message: "no dynamic route named " + strconv.Quote(plan.Model) + " is deployed on gateway " + req.GatewayID})
	}
	g, err := s.routes.graph(v)
	if err != nil {
		return unifiedError(engine.CodeBadRequest, &compat.Error{Status: 400, Type: "invalid_request_error", Code: "route_invalid", Param: "model",
			Message: "the deployed version of dynamic route " + strconv.Quote(plan.Model) + " is not valid: " + err.Error()})
	}
	t.Route = &engine.RouteRun{ID: rt.ID, Name: rt.Name, VersionID: v.ID, Graph: g,
		View: flows.NewView(t.Metadata, body, header),
		Plan: func(m *flows.ModelSpec, mt *engine.Target) *engine.GatewayError {
			p, perr := plan.Retarget(m.Provider, m.Model)
			if perr != nil {
				return unifiedError(engine.CodeUnknownProvider, perr)
			}
			mt.Stream = t.Stream
			return s.planCall(snap, req, mt, p, header)
		}}
	return nil
}
