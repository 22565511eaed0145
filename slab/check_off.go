//go:build !zcommcheck && !race

package slab

// checked is false: views carry no stamp and released buffers are not
// poisoned. Build with -tags zcommcheck (or -race) to turn the checks on.
const checked = false

// stamp is empty in unchecked builds.
type stamp struct{}

func newStamp(skip int) stamp { return stamp{} }
func (stamp) use()            {}
func (stamp) release() error  { return nil }
func poison([]byte)           {}
