# SPDX-License-Identifier: MIT
"""The tag vocabulary of the fake site: a few hundred tags over e621's
categories, built from word lists so that names look like real tags."""

COLOURS = ["black", "white", "grey", "red", "orange", "yellow", "green",
           "blue", "purple", "pink", "brown", "tan", "teal", "cream"]
PARTS = ["fur", "hair", "eyes", "scales", "feathers", "nose", "tail",
         "clothing", "markings", "body"]
SCENE = ["outside", "inside", "forest", "beach", "night", "day", "snow",
         "rain", "city", "bedroom", "kitchen", "space", "underwater",
         "mountain", "desert", "park", "library", "cafe", "school", "field"]
POSE = ["solo", "duo", "group", "standing", "sitting", "lying", "running",
        "flying", "swimming", "jumping", "looking_at_viewer", "smile",
        "open_mouth", "closed_eyes", "blush", "wink", "frown", "angry",
        "happy", "sad", "sleeping", "eating", "drinking", "reading",
        "holding_object", "hug", "cuddling", "dancing", "playing",
        "selfie", "portrait", "full-length_portrait", "headshot_portrait",
        "three-quarter_view", "side_view", "rear_view", "front_view",
        "simple_background", "detailed_background", "abstract_background",
        "gradient_background", "white_background", "text", "english_text",
        "speech_bubble", "dialogue", "comic", "sketch", "lineart",
        "monochrome", "greyscale", "clothed", "hat", "scarf", "glasses",
        "jacket", "shirt", "hoodie", "boots", "gloves", "backpack",
        "umbrella", "flower", "tree", "grass", "cloud", "sun", "moon",
        "star_(celestial)", "water", "fire", "book", "food", "cake",
        "coffee", "tea", "pizza", "fruit", "apple", "bed", "pillow",
        "blanket", "chair", "table", "window", "door", "car", "bicycle",
        "guitar", "computer", "phone", "camera", "video_games", "toy",
        "plushie", "balloon", "candle", "lantern", "sword", "shield",
        "magic", "crown", "jewelry", "necklace", "ribbon", "bow_(feature)",
        "paws", "claws", "fangs", "horn", "wings", "whiskers", "muzzle",
        "fluffy", "fluffy_tail", "long_tail", "big_ears", "small_ears"]
SPECIES = ["canine", "canid", "canis", "wolf", "fox", "domestic_dog",
           "felid", "feline", "domestic_cat", "lion", "tiger", "leopard",
           "dragon", "scalie", "reptile", "lizard", "avian", "bird", "owl",
           "mammal", "equid", "horse", "pony", "deer", "rabbit", "lagomorph",
           "rodent", "mouse", "rat", "squirrel", "bear", "raccoon",
           "procyonid", "otter", "mustelid", "ferret", "hyena", "bat",
           "shark", "fish", "marine", "sergal", "protogen", "synth_(vader-san)",
           "kobold", "goat", "sheep", "bovid", "pig", "kangaroo"]
ARTIST_SYLL = ["ka", "ri", "no", "zu", "mi", "to", "shi", "ra", "fen",
               "lyx", "dor", "vel", "quin", "bram", "oak", "ash"]
COPYRIGHTS = ["nintendo", "pokemon", "sega", "sonic_the_hedgehog_(series)",
              "disney", "zootopia", "dreamworks", "warner_brothers",
              "mythology", "undertale", "blizzard_entertainment",
              "overwatch", "my_little_pony", "hasbro", "star_fox",
              "digimon", "five_nights_at_freddy's", "helluva_boss"]
CHAR_NAMES = ["amber", "basil", "cinder", "dusk", "ember", "fennel",
              "gale", "hazel", "indigo", "juniper", "kestrel", "lumen",
              "maple", "nimbus", "onyx", "pepper", "quartz", "rowan",
              "sable", "thistle", "umber", "vesper", "willow", "xeno",
              "yarrow", "zephyr", "aster", "birch", "clover", "drift",
              "echo", "flint", "garnet", "heath", "iris", "jasper",
              "koda", "lark", "moss", "nova"]
META = ["hi_res", "absurd_res", "digital_media_(artwork)",
        "traditional_media_(artwork)", "colored", "shaded", "cel_shading",
        "digital_painting_(artwork)", "2020", "2021", "2022", "2023",
        "2024", "watermark", "signature", "dated", "widescreen",
        "pixel_(artwork)", "3d_(artwork)", "story", "story_in_description"]
LORE = ["male_(lore)", "female_(lore)", "ambiguous_gender_(lore)",
        "trans_(lore)", "nonbinary_(lore)"]
CONTRIBUTORS = ["voice_actor_ash", "colorist_rin", "writer_moss"]
INVALID = ["tagme", "unknown_artist_signature", "needs_tags"]


def build_vocab(rng):
    """Returns {category: [tags]}; general tags mix colour×part combinations
    with scene and pose words."""
    general = [f"{c}_{p}" for c in COLOURS for p in PARTS]
    rng.shuffle(general)
    general = sorted(set(general[:110] + SCENE + POSE))
    artists = set()
    while len(artists) < 70:
        n = rng.randint(2, 3)
        artists.add("".join(rng.choice(ARTIST_SYLL) for _ in range(n)))
    characters = [f"{n}_(character)" for n in CHAR_NAMES]
    return {
        "general": general,
        "artist": sorted(artists),
        "contributor": CONTRIBUTORS,
        "copyright": COPYRIGHTS,
        "character": characters,
        "species": SPECIES,
        "invalid": INVALID,
        "meta": META,
        "lore": LORE,
    }
