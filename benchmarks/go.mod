module github.com/zcomm-go/zcomm/benchmarks

go 1.26.0

replace github.com/zcomm-go/zcomm => ../

require (
	github.com/schollz/progressbar/v3 v3.19.1
	github.com/zcomm-go/zcomm v0.0.0-00010101000000-000000000000
	golang.org/x/term v0.48.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
