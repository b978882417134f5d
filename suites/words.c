/* words.c — our own small English word lists (written for purbo, no
 * third-party list) standing in for RULER's wonderwords lists: adjectives
 * and nouns make the "words" needle keys (adjective-noun, e.g.
 * "brave-lantern"), and all three lists make the cwe word pool. Lowercase
 * ASCII, one word each, no repeats within a list (a test checks). Changing
 * a list changes every generated prompt: treat it as data, append-only.
 */
#include "suites/words.h"

static const char *const ADJ[] = {
    "able", "ancient", "angry", "autumn", "awake", "bitter", "black", "blue", "bold", "brave",
    "bright", "broad", "broken", "brown", "busy", "calm", "careful", "cheap", "cheerful", "clean",
    "clear", "clever", "cloudy", "cold", "cool", "crisp", "crooked", "cruel", "curious", "damp",
    "dark", "deep", "dense", "distant", "dry", "dull", "dusty", "eager", "early", "easy",
    "elegant", "empty", "endless", "even", "exact", "faint", "fair", "famous", "fancy", "fast",
    "fierce", "flat", "fond", "foolish", "fragile", "free", "fresh", "friendly", "frozen", "full",
    "gentle", "giant", "glad", "golden", "good", "grand", "gray", "great", "green", "grim",
    "happy", "hard", "harsh", "heavy", "hidden", "hollow", "honest", "hot", "huge", "humble",
    "hungry", "icy", "idle", "jolly", "keen", "kind", "large", "late", "lazy", "light",
    "little", "lively", "lonely", "long", "loud", "lucky", "mellow", "mighty", "mild", "modern",
    "narrow", "neat", "nervous", "new", "nimble", "noble", "noisy", "odd", "old", "orange",
    "pale", "patient", "plain", "polite", "poor", "proud", "purple", "quick", "quiet", "rapid",
    "rare", "red", "rich", "rough", "round", "royal", "rusty", "sad", "safe", "salty",
    "scarlet", "secret", "sharp", "shiny", "short", "shy", "silent", "silver", "simple", "sleepy",
    "slow", "small", "smooth", "soft", "solid", "sour", "spare", "steady", "steep", "stern",
    "still", "strange", "strict", "strong", "sturdy", "sudden", "sunny", "sweet", "swift", "tall",
    "tame", "tender", "thick", "thin", "tidy", "tiny", "tired", "tough", "true", "urgent",
    "vast", "violet", "warm", "weak", "wet", "white", "wide", "wild", "wise", "witty",
    "wooden", "yellow", "young", "zealous",
};

static const char *const NOUN[] = {
    "acorn", "anchor", "apple", "arrow", "badge", "bakery", "balloon", "banjo", "barn", "basket",
    "beacon", "bell", "bench", "bicycle", "blanket", "boat", "bottle", "bridge", "brook", "bucket",
    "button", "cabin", "cactus", "camera", "candle", "canoe", "canyon", "carpet", "castle", "cellar",
    "chair", "chimney", "circus", "clock", "cloud", "coast", "comet", "compass", "cookie", "copper",
    "cottage", "crater", "crown", "cup", "curtain", "daisy", "desert", "diamond", "dolphin", "door",
    "dragon", "drum", "eagle", "engine", "falcon", "feather", "fence", "ferry", "fiddle", "field",
    "flag", "flute", "forest", "fountain", "fox", "garden", "garlic", "gate", "glacier", "glove",
    "goat", "guitar", "hammer", "harbor", "harp", "hat", "hawk", "helmet", "hill", "honey",
    "horizon", "horse", "island", "ivory", "jacket", "jar", "jungle", "kettle", "key", "kingdom",
    "kite", "ladder", "lagoon", "lake", "lamp", "lantern", "leaf", "lemon", "library", "lighthouse",
    "lion", "locket", "magnet", "mango", "map", "marble", "meadow", "melon", "mirror", "monkey",
    "moon", "mountain", "mouse", "needle", "nest", "notebook", "oak", "ocean", "orchard", "otter",
    "owl", "paddle", "palace", "panda", "parrot", "pebble", "pencil", "pepper", "piano", "pillow",
    "pine", "planet", "plum", "pocket", "pond", "potato", "pumpkin", "puzzle", "quilt", "rabbit",
    "radio", "rainbow", "raven", "ribbon", "river", "robot", "rocket", "roof", "rose", "saddle",
    "sail", "salmon", "sandal", "scarf", "school", "shadow", "shell", "shield", "ship", "shovel",
    "signal", "sparrow", "spider", "spoon", "squirrel", "stable", "star", "statue", "stone", "storm",
    "stream", "sugar", "summit", "swan", "sword", "table", "teapot", "temple", "tent", "thunder",
    "tiger", "timber", "tomato", "torch", "tower", "tractor", "train", "treasure", "tree", "trumpet",
    "tulip", "tunnel", "turtle", "umbrella", "valley", "vase", "velvet", "village", "violin", "volcano",
    "wagon", "wall", "walnut", "wave", "whale", "wheel", "whistle", "willow", "window", "wolf",
    "yard", "zebra",
};

static const char *const VERB[] = {
    "accept", "admire", "allow", "answer", "arrive", "bake", "balance", "begin", "borrow", "bounce",
    "breathe", "build", "carry", "catch", "celebrate", "change", "chase", "choose", "climb", "collect",
    "comfort", "count", "crawl", "cross", "dance", "decide", "deliver", "dig", "discover", "dream",
    "drift", "earn", "enjoy", "escape", "explain", "explore", "fetch", "fill", "fix", "float",
    "fold", "follow", "gather", "glow", "grow", "guard", "guess", "hang", "help", "hide",
    "hope", "hum", "hunt", "imagine", "invent", "invite", "jog", "juggle", "jump", "kneel",
    "knit", "knock", "laugh", "lead", "learn", "lift", "listen", "march", "measure", "melt",
    "mend", "mix", "notice", "obey", "offer", "open", "paint", "pause", "plant", "play",
    "polish", "pour", "promise", "pull", "push", "race", "reach", "read", "remember", "repair",
    "rescue", "rest", "ride", "roll", "row", "rush", "scatter", "search", "sew", "shake",
    "shine", "sing", "skip", "sleep", "smile", "sneeze", "sort", "spin", "splash", "steer",
    "stir", "swim", "swing", "teach", "throw", "travel", "trust", "tumble", "wander", "wash",
    "watch", "weave", "whisper", "wink", "wish", "wonder", "write", "yawn", "yell", "zoom",
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *const *words_adjectives(int *n) { return *n = COUNT(ADJ), ADJ; }
const char *const *words_nouns(int *n) { return *n = COUNT(NOUN), NOUN; }
const char *const *words_verbs(int *n) { return *n = COUNT(VERB), VERB; }
