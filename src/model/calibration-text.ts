/**
 * The built-in calibration set for SmoothQuant: short passages of varied text (prose, dialogue, code,
 * numbers, a list, scripture, other languages), about 500 GPT-2 tokens in all, written for this
 * project. It only has to excite the hidden channels the way ordinary text does; `bench accuracy`
 * evaluates on different text (src/bench/accuracy-text.ts).
 */
export const CALIBRATION_TEXTS: readonly string[] = [
  'The river had risen overnight, and by morning the lower fields were under a sheet of brown water. ' +
    'Farmers stood at the edge of the road, counting what was lost and what might still be saved.',
  '"Are you coming with us?" she asked. He looked at the clock, then at the door. "Give me ten minutes," he said, ' +
    'and went back to the letter he had been trying to finish since noon.',
  'function mean(xs) {\n  let sum = 0;\n  for (const x of xs) sum += x;\n  return xs.length ? sum / xs.length : NaN;\n}\n' +
    'console.log(mean([3, 1, 4, 1, 5, 9, 2, 6]));',
  'Quarterly revenue rose 4.7% to $12.3 billion, while operating costs fell by 210 million. The board approved a ' +
    'dividend of 0.45 per share, payable on 15 March 2024 to holders of record on 1 March.',
  'Ingredients: 2 cups of flour, 1 teaspoon of salt, 3 eggs, 250 ml of milk.\n1. Whisk the eggs and milk.\n' +
    '2. Fold in the flour and salt.\n3. Rest the batter for thirty minutes before cooking.',
  'In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness ' +
    'was upon the face of the deep.',
  'Photosynthesis converts light energy into chemical energy: carbon dioxide and water become glucose and oxygen ' +
    'inside the chloroplasts of plant cells.',
  'Der Zug nach Berlin hat heute zwanzig Minuten Verspätung. Le musée ouvre à neuf heures. El mercado está cerrado los lunes.',
  'Q: What is the capital of Australia?\nA: Canberra.\nQ: How many legs does a spider have?\nA: Eight.',
  '<html><body><h1>Welcome</h1><p>Sign in to continue.</p></body></html> SELECT name, COUNT(*) FROM orders GROUP BY name;',
  'THE END OF THE WAR WAS ANNOUNCED AT NOON!!! Crowds filled the square... bells rang; strangers embraced; ' +
    'someone played a trumpet badly, and nobody minded.',
];
