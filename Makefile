# shoal — set-up, build, run and test in one place.
#   make run    install what is missing, build (Release), start shoald on
#               127.0.0.1:7700 with RocksDB under ./var/data
#   make test   install what is missing, build, run every test (ctest)
#   make bench  build and run the benchmarks

BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CTEST_JOBS ?= $(JOBS)
HTTP ?= 127.0.0.1:7700
DATA_DIR ?= ./var/data
SHOALD_FLAGS ?=

.PHONY: all deps configure build run test bench clean

all: build

deps:
	@./deploy/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target shoald
	@mkdir -p $(DATA_DIR)
	exec $(BUILD_DIR)/bin/shoald --data-dir $(DATA_DIR) --http $(HTTP) $(SHOALD_FLAGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(CTEST_JOBS) --timeout 300

bench: build
	./bench/run.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
