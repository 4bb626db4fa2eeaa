/** Seconds in a minute, an hour and a day: policy durations are in seconds. */
export const MINUTE = 60;
export const HOUR = 3_600;
export const DAY = 86_400;
