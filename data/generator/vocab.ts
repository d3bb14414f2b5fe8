/**
 * Words of the synthetic world: topic names grouped in categories (topics of one category lie close
 * together in the latent space and share a category tag), each topic's own hashtag vocabulary, and
 * the generic hashtags that every topic uses and that therefore say nothing about a video's topic.
 * Every tag is `[a-z0-9_]`, 1–64 chars.
 */

export const CATEGORIES: ReadonlyArray<{ readonly name: string; readonly topics: readonly string[] }> = [
  { name: 'food', topics: ['cooking', 'baking', 'streetfood', 'vegan', 'coffee', 'bbq'] },
  { name: 'fitness', topics: ['gym', 'yoga', 'running', 'calisthenics', 'pilates'] },
  { name: 'sports', topics: ['football', 'basketball', 'tennis', 'skateboarding', 'surfing', 'fishing', 'climbing'] },
  { name: 'gaming', topics: ['minecraft', 'fortnite', 'speedrun', 'retrogaming', 'esports', 'chess'] },
  { name: 'beauty', topics: ['makeup', 'skincare', 'nails', 'hairstyle'] },
  { name: 'fashion', topics: ['streetwear', 'thrifting', 'outfits', 'sneakers'] },
  { name: 'pets', topics: ['cats', 'dogs', 'birds', 'aquarium', 'reptiles'] },
  { name: 'outdoors', topics: ['travel', 'camping', 'hiking', 'vanlife'] },
  { name: 'comedy', topics: ['standup', 'pranks', 'skits', 'memes'] },
  { name: 'music', topics: ['guitar', 'piano', 'singing', 'drums', 'kpop', 'hiphop'] },
  { name: 'dance', topics: ['dancechallenge', 'ballet', 'breakdance'] },
  { name: 'learning', topics: ['science', 'history', 'math', 'languages', 'coding', 'space'] },
  { name: 'tech', topics: ['gadgets', 'ai', 'pcbuild', 'smartphones'] },
  { name: 'diy', topics: ['woodworking', 'gardening', 'crafts', 'homedecor', 'cleaning'] },
  { name: 'auto', topics: ['cars', 'motorcycles', 'trucks'] },
  { name: 'art', topics: ['drawing', 'painting', 'pottery', 'photography', 'tattoo'] },
  { name: 'screen', topics: ['movies', 'anime', 'books', 'tvshows'] },
  { name: 'money', topics: ['investing', 'crypto', 'realestate', 'sidehustle'] },
  { name: 'family', topics: ['parenting', 'weddings', 'pregnancy'] },
];

/** Hashtags shared by every topic: no topic signal at all. Most used first. */
export const GENERIC_TAGS: readonly string[] = [
  'fyp',
  'foryou',
  'viral',
  'foryoupage',
  'trending',
  'funny',
  'explore',
  'wow',
  'omg',
  'relatable',
  'satisfying',
  'storytime',
  'pov',
  'new',
];

/** Suffix / prefix patterns for a topic's own hashtags, besides its bare name (which is used most). */
const PATTERNS: ReadonlyArray<(n: string) => string> = [
  (n) => `${n}tok`,
  (n) => `${n}tips`,
  (n) => `${n}life`,
  (n) => `${n}lover`,
  (n) => `${n}daily`,
  (n) => `${n}hacks`,
  (n) => `${n}101`,
  (n) => `learn${n}`,
  (n) => `${n}community`,
  (n) => `${n}challenge`,
  (n) => `${n}goals`,
  (n) => `best${n}`,
  (n) => `${n}vibes`,
  (n) => `${n}check`,
  (n) => `${n}addict`,
  (n) => `${n}_fails`,
  (n) => `${n}_tutorial`,
  (n) => `${n}_asmr`,
];

/** A topic's vocabulary: its name first, then `count - 1` patterns picked by `order` (a permutation of pattern indices). */
export function topicVocabulary(name: string, order: readonly number[], count: number): string[] {
  const tags = [name];
  for (let i = 0; i < order.length && tags.length < count; i++) tags.push(PATTERNS[order[i] % PATTERNS.length](name));
  return tags;
}

export const PATTERN_COUNT = PATTERNS.length;
