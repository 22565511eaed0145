package process

// queue is a FIFO of T on a circular slice that grows by doubling and never
// shrinks, so that a queue in steady use allocates nothing.
type queue[T any] struct {
	buf  []T
	head int // index of the first element
	n    int // number of elements
}

func (q *queue[T]) len() int { return q.n }

func (q *queue[T]) push(v T) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = v
	q.n++
}

// front returns a pointer to the first element; the queue must not be empty.
func (q *queue[T]) front() *T { return &q.buf[q.head] }

// back returns a pointer to the last element; the queue must not be empty.
func (q *queue[T]) back() *T { return &q.buf[(q.head+q.n-1)&(len(q.buf)-1)] }

func (q *queue[T]) pop() (T, bool) {
	var zero T
	if q.n == 0 {
		return zero, false
	}
	v := q.buf[q.head]
	q.buf[q.head] = zero // keep nothing alive
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	return v, true
}

// skip removes the first element, which the caller has already set to the
// zero value through front; the queue must not be empty.
func (q *queue[T]) skip() {
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
}

func (q *queue[T]) grow() {
	size := max(2*len(q.buf), 8) // stays a power of two
	buf := make([]T, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = buf, 0
}
