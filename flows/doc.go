// Package flows is dynamic routes: the route JSON of the hosted product ({id, name,
// elements}), its validation, compilation to an immutable Graph, MongoDB-style conditions
// and the pure walk step. Like etcd's raft package it is a state machine with the I/O
// outside: the caller feeds a Walker the outcome of the last step (a model answered, a
// limit admitted) and gets the next step. flows imports nothing of ours, does no I/O and
// owns no clock or randomness: both are injected.
package flows
