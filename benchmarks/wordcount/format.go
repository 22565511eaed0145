package wordcount

import "strconv"

func quote(s string) string { return strconv.Quote(s) }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
