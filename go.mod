module github.com/zcomm-go/zcomm

go 1.26.0

require (
	github.com/cespare/xxhash/v2 v2.3.0
	golang.org/x/sys v0.50.0
)
