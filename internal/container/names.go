package container

import (
	"math/rand/v2"
	"strconv"
)

// Generated names pair a quality with something found in a harbour, as in
// "steady_bollard"; after a few collisions a number is added.
var (
	nameQualities = []string{
		"agile", "amber", "ardent", "bold", "brave", "bright", "brisk", "calm", "clever", "cosy",
		"crisp", "daring", "deft", "eager", "earnest", "fair", "fleet", "fond", "gentle", "glad",
		"grand", "hardy", "hearty", "humble", "jolly", "keen", "kind", "lively", "loyal", "lucid",
		"merry", "mellow", "nimble", "noble", "patient", "plucky", "proud", "quick", "quiet", "rapid",
		"ready", "robust", "rosy", "salty", "serene", "sharp", "snug", "sound", "spry", "stark",
		"steady", "stout", "sturdy", "sunny", "swift", "tidy", "trusty", "upbeat", "vivid", "warm",
		"wise", "witty", "zesty",
	}
	nameThings = []string{
		"anchor", "ballast", "barge", "beacon", "bollard", "bow", "breakwater", "buoy", "cabin",
		"capstan", "cargo", "channel", "cleat", "compass", "crane", "deck", "dinghy", "dock", "ferry",
		"fender", "galley", "gangway", "harbour", "hatch", "hawser", "helm", "hull", "jetty", "keel",
		"lantern", "lighthouse", "mast", "mooring", "oar", "pier", "pilot", "port", "quay", "rudder",
		"sail", "schooner", "sextant", "slipway", "sloop", "spinnaker", "starboard", "stern", "tide",
		"tiller", "towline", "trawler", "tug", "wake", "wharf", "winch", "yard",
	}
)

func generateName(numbered bool) string {
	n := nameQualities[rand.IntN(len(nameQualities))] + "_" + nameThings[rand.IntN(len(nameThings))]
	if numbered {
		n += strconv.Itoa(rand.IntN(10))
	}
	return n
}
