//go:build !zcommcheck && !race

package process_test

// checkedViews reports whether views are checked (build tag zcommcheck, which
// -race turns on too): each view then carries a stamp, which allocates.
const checkedViews = false
