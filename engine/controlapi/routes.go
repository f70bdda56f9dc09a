// routes.go serves dynamic routes, their versions and deployments in the hosted
// shapes (cloudflare-go v7 ai_gateway DynamicRouting):
//
//	GET, POST          ai-gateway/gateways/{gw}/routes
//	GET, PATCH, DELETE ai-gateway/gateways/{gw}/routes/{id}
//	GET, POST          ai-gateway/gateways/{gw}/routes/{id}/versions
//	GET                ai-gateway/gateways/{gw}/routes/{id}/versions/{version_id}
//	GET, POST          ai-gateway/gateways/{gw}/routes/{id}/deployments
//	POST               ai-gateway/gateways/{gw}/routes/validate (Switchyard's own)
//
// Graphs are checked here with flows (storage/config stores them without reading them):
// creating a route or deploying a version with an invalid graph is a 400 with one error
// per problem; a new version with an invalid graph is kept as a draft (is_valid false),
// its problems in the answer's messages.
//
// cloudflare-go reads New, Get, Delete, NewVersion, GetVersion and NewDeployment from the
// envelope's result, but Update, List, ListVersions and ListDeployments from the whole
// body ({"success","route"} or {"success","data":{...}}): those answers carry both.
package controlapi

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/flows"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/valyala/fasthttp"
)

// dynRouteEndpoint maps routes[/{id}[/versions[/{version_id}]|/deployments]] of gateway gw
// (p starts at "routes") onto their handlers.
func (s *API) dynRouteEndpoint(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw string, p []string) *route {
	m := string(ctx.Method())
	read, edit := gatewayScoped(gw)
	body := func() []byte { return ctx.Request.Body() }
	switch {
	case len(p) == 1:
		switch m {
		case "GET":
			return read(func() { s.listDynRoutes(ctx, acct, gw) })
		case "POST":
			return edit(func() { s.createDynRoute(ctx, who, acct, gw, body()) })
		}
	case len(p) == 2 && p[1] == "validate" && m == "POST":
		return read(func() { s.validateDynRoute(ctx, acct, gw, body()) })
	case len(p) == 2:
		id := p[1]
		switch m {
		case "GET":
			return read(func() { s.getDynRoute(ctx, acct, gw, id) })
		case "PATCH":
			return edit(func() { s.renameDynRoute(ctx, who, acct, gw, id, body()) })
		case "DELETE":
			return edit(func() { s.deleteDynRoute(ctx, who, acct, gw, id) })
		}
	case len(p) == 3 && p[2] == "versions":
		id := p[1]
		switch m {
		case "GET":
			return read(func() { s.listRouteVersions(ctx, acct, gw, id) })
		case "POST":
			return edit(func() { s.createRouteVersion(ctx, who, acct, gw, id, body()) })
		}
	case len(p) == 4 && p[2] == "versions" && m == "GET":
		return read(func() { s.getRouteVersion(ctx, acct, gw, p[1], p[3]) })
	case len(p) == 3 && p[2] == "deployments":
		id := p[1]
		switch m {
		case "GET":
			return read(func() { s.listRouteDeployments(ctx, acct, gw, id) })
		case "POST":
			return edit(func() { s.deployRouteVersion(ctx, who, acct, gw, id, body()) })
		}
	}
	return nil
}

// ---- answer shapes ----

// routeDeploymentJSON is a deployment as the hosted API answers it.
type routeDeploymentJSON struct {
	CreatedAt    string `json:"created_at"`
	DeploymentID string `json:"deployment_id"`
	VersionID    string `json:"version_id"`
}

// routeVersionJSON is a version as the hosted API lists it: data is the version as route
// JSON text ({"id","name","elements"}), active "true" for the deployed version.
type routeVersionJSON struct {
	Active    string `json:"active"`
	CreatedAt string `json:"created_at"`
	Data      string `json:"data"`
	VersionID string `json:"version_id"`
	IsValid   bool   `json:"is_valid"`
}

// routeJSON is a route with the elements, version and deployment in force.
type routeJSON struct {
	ID         string               `json:"id"`
	AccountTag string               `json:"account_tag"`
	GatewayID  string               `json:"gateway_id"`
	Name       string               `json:"name"`
	Elements   json.RawMessage      `json:"elements"`
	CreatedAt  time.Time            `json:"created_at"`
	ModifiedAt time.Time            `json:"modified_at"`
	Deployment *routeDeploymentJSON `json:"deployment"`
	Version    *routeVersionJSON    `json:"version"`
}

// routeVersionDetailJSON is one version with its route (GET .../versions/{version_id}).
// Versions never change, so modified_at is when it was created.
type routeVersionDetailJSON struct {
	routeVersionJSON
	ID         string          `json:"id"`
	GatewayID  string          `json:"gateway_id"`
	Name       string          `json:"name"`
	Elements   json.RawMessage `json:"elements"`
	ModifiedAt time.Time       `json:"modified_at"`
}

// listData is the "data" object cloudflare-go reads from a list answer; Items is
// marshalled under the list's own name (routes, versions, deployments).
type listData struct {
	OrderBy          string `json:"order_by"`
	OrderByDirection string `json:"order_by_direction"`
	Page             int    `json:"page"`
	PerPage          int    `json:"per_page"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func deploymentJSON(d *config.RouteDeployment) *routeDeploymentJSON {
	return &routeDeploymentJSON{CreatedAt: stamp(d.CreatedAt), DeploymentID: d.ID, VersionID: d.VersionID}
}

func versionJSON(r *config.Route, v *config.RouteVersion) *routeVersionJSON {
	deployed, _ := r.Deployed()
	data, _ := json.Marshal(struct {
		ID       string          `json:"id"`
		Name     string          `json:"name"`
		Elements json.RawMessage `json:"elements"`
	}{r.ID, r.Name, v.Elements})
	return &routeVersionJSON{Active: strconv.FormatBool(deployed == v), CreatedAt: stamp(v.CreatedAt), Data: string(data),
		VersionID: v.ID, IsValid: v.Valid}
}

// routeAnswer is a route with what is deployed.
func routeAnswer(r *config.Route) routeJSON {
	out := routeJSON{ID: r.ID, AccountTag: r.AccountID, GatewayID: r.GatewayID, Name: r.Name, Elements: json.RawMessage("[]"),
		CreatedAt: r.CreatedAt, ModifiedAt: r.ModifiedAt}
	if v, d := r.Deployed(); v != nil {
		out.Elements, out.Deployment, out.Version = v.Elements, deploymentJSON(d), versionJSON(r, v)
	}
	return out
}

// ---- graphs ----

// routeProblems parses and compiles a graph; nil when it is a valid route.
func routeProblems(elements []byte) flows.Problems {
	els, err := flows.ParseElements(elements)
	if err != nil {
		var ps flows.Problems
		if errors.As(err, &ps) {
			return ps
		}
		return flows.Problems{{Message: err.Error()}}
	}
	_, problems := flows.Compile(els)
	return problems
}

// elementIndexes maps each element id of a graph to where it first is (empty when the graph
// does not decode); problems are placed with it, the graph decoded once for all of them.
func elementIndexes(elements []byte) map[string]int {
	var els []elementRef
	if json.Unmarshal(elements, &els) != nil {
		return nil
	}
	at := make(map[string]int, len(els))
	for i, e := range els {
		if _, seen := at[e.ID]; !seen {
			at[e.ID] = i
		}
	}
	return at
}

// elementRef is what elementIndexes reads of an element.
type elementRef struct {
	ID string `json:"id"`
}

// failProblems answers a 400 with one error per problem, each naming its element and
// pointing at it (["body","elements","<index>"]) in the graph that was sent or deployed.
func failProblems(ctx *fasthttp.RequestCtx, elements []byte, problems flows.Problems, path ...string) {
	errs := make([]apiError, 0, len(problems))
	index := elementIndexes(elements)
	for _, p := range problems {
		at := slices.Clone(path)
		if i, ok := index[p.ElementID]; p.ElementID != "" && ok && path[len(path)-1] == "elements" {
			at = append(at, strconv.Itoa(i))
		}
		errs = append(errs, apiError{Code: codeBadRequest, Message: p.String(), Path: at})
	}
	writeJSON(ctx, 400, envelope{Errors: errs, Messages: []apiMessage{}})
}

// routeBody is a create body: a name (routes) and the graph.
type routeBody struct {
	Name     *string         `json:"name"`
	Elements json.RawMessage `json:"elements"`
}

// readRouteBody decodes a create or rename body, requiring name and/or elements; false
// once it has answered a 400.
func readRouteBody(ctx *fasthttp.RequestCtx, body []byte, needName, needElements bool) (routeBody, bool) {
	var b routeBody
	if err := json.Unmarshal(body, &b); err != nil {
		apiFail(ctx, 400, codeBadRequest, "request body must be a JSON object: "+err.Error(), "body")
		return b, false
	}
	if needName && b.Name == nil {
		apiFail(ctx, 400, codeBadRequest, "name is required", "body", "name")
		return b, false
	}
	if needElements && (len(b.Elements) == 0 || string(b.Elements) == "null") {
		apiFail(ctx, 400, codeBadRequest, "elements is required (the route's graph: an array of elements)", "body", "elements")
		return b, false
	}
	return b, true
}

// ---- routes ----

// listOrder reads order_by (one of allowed, the first by default) and order_by_direction
// (asc or desc, desc by default); false once it has answered a 400.
func listOrder(ctx *fasthttp.RequestCtx, allowed ...string) (by string, desc bool, good bool) {
	args := ctx.QueryArgs()
	by = string(args.Peek("order_by"))
	if by == "" {
		by = allowed[0]
	}
	if !slices.Contains(allowed, by) {
		apiFail(ctx, 400, codeBadRequest, "order_by "+by+" is not supported (use "+strings.Join(allowed, ", ")+")", "query", "order_by")
		return "", false, false
	}
	switch dir := string(args.Peek("order_by_direction")); dir {
	case "", "desc":
		return by, true, true
	case "asc":
		return by, false, true
	default:
		apiFail(ctx, 400, codeBadRequest, "order_by_direction must be asc or desc", "query", "order_by_direction")
		return "", false, false
	}
}

// listArgs reads a list call's query: page, per_page, order_by among allowed and its
// direction; false once it has answered a 400.
func listArgs(ctx *fasthttp.RequestCtx, allowed ...string) (listData, bool) {
	if !onlyQuery(ctx, "page", "per_page", "order_by", "order_by_direction") {
		return listData{}, false
	}
	page, perPage, perr := pageArgs(ctx, 20)
	if perr != nil {
		apiFail(ctx, 400, perr.Code, perr.Message, perr.Path...)
		return listData{}, false
	}
	by, desc, good := listOrder(ctx, allowed...)
	dir := "asc"
	if desc {
		dir = "desc"
	}
	return listData{OrderBy: by, OrderByDirection: dir, Page: page, PerPage: perPage}, good
}

// answerList answers one page of a sorted list in both shapes: the envelope's result and
// result_info, and {"data":{order_by, order_by_direction, page, per_page, <name>: [...]}}.
func answerList[T any](ctx *fasthttp.RequestCtx, all []T, l listData, name string) {
	res := pageOf(all, l.Page, l.PerPage)
	data := map[string]any{"order_by": l.OrderBy, "order_by_direction": l.OrderByDirection, "page": l.Page,
		"per_page": l.PerPage, name: res}
	writeJSON(ctx, 200, struct {
		envelope
		Data map[string]any `json:"data"`
	}{envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: res,
		ResultInfo: newResultInfo(l.Page, l.PerPage, len(res), len(all))}, data})
}

// sortByTime orders items by time (ties keep their order) and reverses for desc.
func sortByTime[T any](items []T, at func(T) time.Time, desc bool) {
	sort.SliceStable(items, func(i, j int) bool { return at(items[i]).Before(at(items[j])) })
	if desc {
		slices.Reverse(items)
	}
}

// listDynRoutes lists a gateway's routes: order_by created_at (default), modified_at or
// name; order_by_direction desc (default) or asc; page, per_page.
func (s *API) listDynRoutes(ctx *fasthttp.RequestCtx, acct, gw string) {
	l, good := listArgs(ctx, "created_at", "modified_at", "name")
	if !good {
		return
	}
	snap := s.snap()
	if snap.Gateway(acct, gw) == nil {
		apiFail(ctx, 404, codeNotFound, "gateway "+gw+" not found", "path", "gateway_id")
		return
	}
	routes := snap.Routes(acct, gw)
	slices.Reverse(routes) // oldest first, so that equal keys stay in creation order
	switch l.OrderBy {
	case "created_at":
		sortByTime(routes, func(r *config.Route) time.Time { return r.CreatedAt }, l.OrderByDirection == "desc")
	case "modified_at":
		sortByTime(routes, func(r *config.Route) time.Time { return r.ModifiedAt }, l.OrderByDirection == "desc")
	case "name":
		sort.SliceStable(routes, func(i, j int) bool { return routes[i].Name < routes[j].Name })
		if l.OrderByDirection == "desc" {
			slices.Reverse(routes)
		}
	}
	out := make([]routeJSON, len(routes))
	for i, r := range routes {
		out[i] = routeAnswer(r)
	}
	answerList(ctx, out, l, "routes")
}

// routeOf finds a route for a handler; nil once it has answered a 404.
func (s *API) routeOf(ctx *fasthttp.RequestCtx, snap *config.Snapshot, acct, gw, id string) *config.Route {
	if snap.Gateway(acct, gw) == nil {
		apiFail(ctx, 404, codeNotFound, "gateway "+gw+" not found", "path", "gateway_id")
		return nil
	}
	r := snap.Route(acct, gw, id)
	if r == nil {
		apiFail(ctx, 404, codeNotFound, "route "+id+" not found", "path", "id")
	}
	return r
}

func (s *API) getDynRoute(ctx *fasthttp.RequestCtx, acct, gw, id string) {
	if r := s.routeOf(ctx, s.snap(), acct, gw, id); r != nil {
		ok(ctx, routeAnswer(r))
	}
}

// createDynRoute creates a route from {name, elements}: its first version, deployed. An
// invalid graph is refused with its problems.
func (s *API) createDynRoute(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw string, body []byte) {
	b, good := readRouteBody(ctx, body, true, true)
	if !good {
		return
	}
	if problems := routeProblems(b.Elements); problems != nil {
		failProblems(ctx, b.Elements, problems, "body", "elements")
		return
	}
	c, cancel := writeCtx()
	defer cancel()
	r, err := s.opts.Config.CreateRoute(c, who.Actor(), acct, gw, *b.Name, b.Elements, true)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, routeAnswer(r))
}

// routeProblemJSON is one problem validate finds: the element it is about (empty for the
// whole graph), where that element is in the array sent (-1: nowhere), and the message the
// create, version and deploy calls would give.
type routeProblemJSON struct {
	ElementID    string `json:"element_id"`
	ElementIndex int    `json:"element_index"`
	Message      string `json:"message"`
}

// validateResult is validate's answer.
type validateResult struct {
	IsValid  bool               `json:"is_valid"`
	Problems []routeProblemJSON `json:"problems"`
}

// validateDynRoute checks {elements} as creating or deploying it would, without storing
// anything: a read call, so an editor can check a graph as it is typed. The graph's
// problems are the answer (200), not a failure; only a body that is not {elements} is a 400.
func (s *API) validateDynRoute(ctx *fasthttp.RequestCtx, acct, gw string, body []byte) {
	if s.snap().Gateway(acct, gw) == nil {
		apiFail(ctx, 404, codeNotFound, "gateway "+gw+" not found", "path", "gateway_id")
		return
	}
	b, good := readRouteBody(ctx, body, false, true)
	if !good {
		return
	}
	out := validateResult{IsValid: true, Problems: []routeProblemJSON{}}
	problems := routeProblems(b.Elements)
	var index map[string]int
	if problems != nil {
		index = elementIndexes(b.Elements)
	}
	for _, p := range problems {
		out.IsValid = false
		i, ok := index[p.ElementID]
		if p.ElementID == "" || !ok {
			i = -1
		}
		out.Problems = append(out.Problems, routeProblemJSON{ElementID: p.ElementID, ElementIndex: i, Message: p.String()})
	}
	ok(ctx, out)
}

// renameDynRoute applies {name} (PATCH); the answer has the route in result and in route.
func (s *API) renameDynRoute(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string, body []byte) {
	b, good := readRouteBody(ctx, body, true, false)
	if !good {
		return
	}
	c, cancel := writeCtx()
	defer cancel()
	r, err := s.opts.Config.RenameRoute(c, who.Actor(), acct, gw, id, *b.Name)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	answer := routeAnswer(r)
	writeJSON(ctx, 200, struct {
		envelope
		Route routeJSON `json:"route"`
	}{envelope{Success: true, Errors: []apiError{}, Messages: []apiMessage{}, Result: answer}, answer})
}

func (s *API) deleteDynRoute(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string) {
	c, cancel := writeCtx()
	defer cancel()
	r, err := s.opts.Config.DeleteRoute(c, who.Actor(), acct, gw, id)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, routeAnswer(r))
}

// ---- versions ----

// listRouteVersions lists a route's versions by created_at, newest first by default.
func (s *API) listRouteVersions(ctx *fasthttp.RequestCtx, acct, gw, id string) {
	listOfRoute(s, ctx, acct, gw, id, "versions", (*config.Route).Versions,
		func(v *config.RouteVersion) time.Time { return v.CreatedAt }, versionJSON)
}

// listOfRoute serves a list of one route's versions or deployments (named name in the
// answer's data), ordered by created_at.
func listOfRoute[T, J any](s *API, ctx *fasthttp.RequestCtx, acct, gw, id, name string,
	items func(*config.Route) []T, createdAt func(T) time.Time, answer func(*config.Route, T) J) {
	l, good := listArgs(ctx, "created_at")
	if !good {
		return
	}
	r := s.routeOf(ctx, s.snap(), acct, gw, id)
	if r == nil {
		return
	}
	all := slices.Clone(items(r))
	sortByTime(all, createdAt, l.OrderByDirection == "desc")
	out := make([]J, len(all))
	for i, v := range all {
		out[i] = answer(r, v)
	}
	answerList(ctx, out, l, name)
}

func (s *API) getRouteVersion(ctx *fasthttp.RequestCtx, acct, gw, id, versionID string) {
	r := s.routeOf(ctx, s.snap(), acct, gw, id)
	if r == nil {
		return
	}
	v := r.Version(versionID)
	if v == nil {
		apiFail(ctx, 404, codeNotFound, "version "+versionID+" of route "+id+" not found", "path", "version_id")
		return
	}
	ok(ctx, routeVersionDetailJSON{routeVersionJSON: *versionJSON(r, v), ID: r.ID, GatewayID: r.GatewayID, Name: r.Name,
		Elements: v.Elements, ModifiedAt: v.CreatedAt})
}

// createRouteVersion adds a version from {elements}, not deployed. An invalid graph is
// kept as a draft: is_valid false, its problems in messages. The answer is the route (with
// what is deployed) and, under version, the new version.
func (s *API) createRouteVersion(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string, body []byte) {
	b, good := readRouteBody(ctx, body, false, true)
	if !good {
		return
	}
	problems := routeProblems(b.Elements)
	c, cancel := writeCtx()
	defer cancel()
	r, v, err := s.opts.Config.CreateRouteVersion(c, who.Actor(), acct, gw, id, b.Elements, problems == nil)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	answer := routeAnswer(r)
	answer.Version = versionJSON(r, v)
	messages := make([]apiMessage, 0, len(problems))
	if problems != nil {
		messages = append(messages, apiMessage{msgDraft, "version " + v.ID + " is kept as a draft (is_valid false) and cannot be deployed until its problems are fixed in a new version:"})
		for _, p := range problems {
			messages = append(messages, apiMessage{msgDraft, p.String()})
		}
	}
	writeJSON(ctx, 200, envelope{Success: true, Errors: []apiError{}, Messages: messages, Result: answer})
}

// ---- deployments ----

// listRouteDeployments lists a route's deployments by created_at, newest first by default.
func (s *API) listRouteDeployments(ctx *fasthttp.RequestCtx, acct, gw, id string) {
	listOfRoute(s, ctx, acct, gw, id, "deployments", (*config.Route).Deployments,
		func(d *config.RouteDeployment) time.Time { return d.CreatedAt },
		func(_ *config.Route, d *config.RouteDeployment) *routeDeploymentJSON { return deploymentJSON(d) })
}

// deployRouteVersion deploys {version_id}: from the next request on, the route walks it.
// Deploying an older version is the rollback. A version whose graph does not compile
// (a draft) is refused with its problems.
func (s *API) deployRouteVersion(ctx *fasthttp.RequestCtx, who config.Principal, acct, gw, id string, body []byte) {
	var b struct {
		VersionID string `json:"version_id"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		apiFail(ctx, 400, codeBadRequest, "request body must be a JSON object: "+err.Error(), "body")
		return
	}
	if b.VersionID == "" {
		apiFail(ctx, 400, codeBadRequest, "version_id is required", "body", "version_id")
		return
	}
	r := s.routeOf(ctx, s.snap(), acct, gw, id)
	if r == nil {
		return
	}
	v := r.Version(b.VersionID)
	if v == nil {
		apiFail(ctx, 404, codeNotFound, "version "+b.VersionID+" of route "+id+" not found", "body", "version_id")
		return
	}
	if problems := routeProblems(v.Elements); problems != nil {
		failProblems(ctx, v.Elements, problems, "body", "version_id")
		return
	}
	c, cancel := writeCtx()
	defer cancel()
	r, _, err := s.opts.Config.DeployRouteVersion(c, who.Actor(), acct, gw, id, b.VersionID, true)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ok(ctx, routeAnswer(r))
}
