package slab

// Checked reports whether this is the checked build (tag zcommcheck, or
// -race): views carry stamps and released buffers are poisoned. Tests of those
// checks skip without it, and allocation tests skip with it, since the stamps
// allocate.
const Checked = checked
