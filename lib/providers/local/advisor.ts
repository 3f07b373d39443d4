import type { Advice } from "@/lib/providers/types";
import type { NamedColor } from "./colors";

interface OccasionProfile {
  /** Lower-case words that select this profile when they appear in the occasion. */
  keywords: string[];
  mood: string;
  pieces(color: string, pair: NamedColor["pairsWith"]): string[];
}

const OCCASION_PROFILES: OccasionProfile[] = [
  {
    keywords: ["wedding", "ceremony", "reception", "bride", "groom"],
    mood: "polished and celebratory, without upstaging the couple",
    pieces: (c, [a, b, d]) => [
      `A tailored ${a} blazer or light jacket over the ${c} piece, to dress it up for the ceremony`,
      `Tailored trousers or a midi skirt in ${b}, so the ${c} stays the focal point`,
      `Polished leather shoes or block heels in ${d}`,
      `One refined accessory: a silk pocket square or a slim clutch echoing the ${c}`,
    ],
  },
  {
    keywords: ["interview", "office", "work", "meeting", "business", "conference", "presentation"],
    mood: "sharp, credible and understated",
    pieces: (c, [a, b, d]) => [
      `A structured ${a} blazer worn over the ${c} piece`,
      `Straight-leg trousers in ${b}, pressed with a clean crease`,
      `Plain leather loafers or low pumps in ${d}`,
      "A simple watch and a structured bag; nothing that jingles",
    ],
  },
  {
    keywords: ["date", "dinner", "romantic", "anniversary", "drinks"],
    mood: "relaxed but deliberate, a little evening edge",
    pieces: (c, [a, b, d]) => [
      `Dark jeans or slim trousers in ${a} to ground the ${c}`,
      `A fitted ${b} jacket for when the evening cools`,
      `Suede boots or sleek flats in ${d}`,
      `A small statement piece of jewellery that picks up the ${c}`,
    ],
  },
  {
    keywords: ["party", "club", "cocktail", "birthday", "celebration", "night out", "festival"],
    mood: "bold and playful, made for the dance floor",
    pieces: (c, [a, b, d]) => [
      `Let the ${c} lead: keep the rest in ${a} for contrast`,
      `A sleek ${b} layer with some sheen, such as satin or leather`,
      `Comfortable statement shoes in ${d} you can stand in all night`,
      "Metallic accessories to catch the light",
      "A compact crossbody bag that leaves your hands free",
    ],
  },
  {
    keywords: ["casual", "weekend", "brunch", "errand", "park", "travel", "holiday", "beach"],
    mood: "easy, comfortable and put-together",
    pieces: (c, [a, b, d]) => [
      `Relaxed denim or chinos in ${a} with the ${c} piece`,
      `A soft ${b} overshirt or cardigan to layer`,
      `Clean white trainers, or canvas shoes in ${d}`,
      "A canvas tote and simple sunglasses",
    ],
  },
];

const DEFAULT_PROFILE: OccasionProfile = {
  keywords: [],
  mood: "balanced and versatile",
  pieces: (c, [a, b, d]) => [
    `A neutral ${a} layer over the ${c} piece`,
    `Well-fitted trousers or a skirt in ${b}`,
    `Simple shoes in ${d} that match your belt or bag`,
    `One accessory that repeats the ${c}, to tie the look together`,
  ],
};

function profileFor(occasion: string): OccasionProfile {
  const text = occasion.toLowerCase();
  // Words starting with the keyword ("weddings", "working"), so "network" or "candidate" do not count.
  const mentions = (keyword: string) => new RegExp(`\\b${keyword}`).test(text);
  return OCCASION_PROFILES.find((p) => p.keywords.some(mentions)) ?? DEFAULT_PROFILE;
}

/** Offline styling advice for an occasion and the garment's measured colour: rule-based, and says so. */
export function adviseOffline(occasion: string, color: NamedColor): Advice {
  const trimmed = occasion.trim().replace(/\s+/g, " ").slice(0, 200);
  const profile = profileFor(trimmed);
  const pieces = profile.pieces(color.name, color.pairsWith);
  const [a, b] = color.pairsWith;
  return {
    summary:
      `Offline preview (no AI service is configured): for "${trimmed}", build the look around the ${color.name} ` +
      `of your garment. Keep it ${profile.mood}; ${a} and ${b} pair well with ${color.name}.`,
    pieces,
    stylePrompt:
      `Full-length studio fashion photo of the same person wearing a ${color.name} garment, styled for ${trimmed}: ` +
      `${pieces.join("; ")}. Mood: ${profile.mood}. Soft studio lighting, plain backdrop, natural pose.`,
    source: "offline",
  };
}
