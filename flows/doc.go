// Package flows will hold dynamic routes: the route JSON, validation, compilation to an
// immutable graph and the pure walk step. It imports nothing of ours and does no I/O.
// The dynamic-routes issue fills it; the folder exists now because the layout is fixed.
package flows
