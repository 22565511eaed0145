package original

import "github.com/zcomm-go/zcomm/slab"

// Inject puts v in a's queue from worker sender as a push would, waking a if
// the queue was empty. Tests use it to hand a receiver bytes that no pusher
// would write.
func (a *Allocator) Inject(sender int, v slab.View) error {
	wasEmpty, err := a.g.queue(a.index, sender).push(v)
	if wasEmpty {
		a.g.signal(a.index)
	}
	return err
}
