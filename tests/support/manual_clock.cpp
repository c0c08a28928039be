#include "tests/support/manual_clock.hpp"
