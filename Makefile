# fmctl: the README's two commands are `make train` and `make test`.
SWIFT ?= swift
THREADS ?= 2

.PHONY: setup build release test examples bench train clean

setup:
	./scripts/setup

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test
	$(MAKE) examples

# The Examples/ package uses fmctl as a library (public API only); release, since its training
# runs in seconds there and minutes in debug.
examples: setup
	$(SWIFT) build --package-path Examples --scratch-path Examples/.build -c release
	Examples/.build/release/train-own-model --limit 3000 --epochs 2
	Examples/.build/release/measure-footprint

bench: release
	$(SWIFT) run -c release fmctl-bench

train: release
	$(SWIFT) run -c release fmctl train --threads $(THREADS) $(ARGS)

clean:
	rm -rf .build Examples/.build
