/* The wait between failed renewal attempts and the expiry alarm's rhythm
 * (acme/status.c), played out over whole lifetimes against a CA that fails
 * every attempt, with the ±10 % jitter the manager adds at both extremes;
 * and a wait read back from status.json at start-up, bounded the same way. */
#include "check.h"
#include "acme/status.h"

#define H 3600.0
#define DAY 86400.0
#define L (90 * DAY) /* the lifetime, where one is served */

typedef struct run {
	int attempts_before_expiry;
	int alarms;
	double first_alarm_left; /* time left at the first alarm; -1e9 if none */
	double last_try_left;    /* time left at the last attempt before expiry */
	bool shrinking;          /* no wait grew once the last sixth was reached */
	double min_gap, max_gap; /* between two alarms */
} run_t;

/* A certificate of lifetime life, due when a third (half, under 10 days) is
 * left; every attempt fails; jitter is the factor applied to each wait. */
static run_t play(double life, double retry_interval, bool stubborn, double jitter)
{
	run_t r = { 0, 0, -1e9, 0, true, 1e18, 0 };
	time_t nb = 1000000000, na = nb + (time_t)life;
	double t = (double)acme_renewal_time(nb, na, false);
	double last_alarm = -1e18, prev_delay = 1e18;
	for (int failures = 1; t < (double)na && failures < 100000; failures++) {
		double left = (double)na - t;
		r.attempts_before_expiry++;
		r.last_try_left = left;
		double delay = acme_retry_delay(failures, retry_interval, stubborn, life, left) * jitter;
		if (acme_alarm_due(life, left, t - last_alarm, delay)) {
			if (r.alarms && t - last_alarm > r.max_gap)
				r.max_gap = t - last_alarm;
			if (r.alarms && t - last_alarm < r.min_gap)
				r.min_gap = t - last_alarm;
			if (!r.alarms)
				r.first_alarm_left = left;
			r.alarms++;
			last_alarm = t;
		}
		if (left < life / 6 && delay > prev_delay * 1.25) /* jitter aside */
			r.shrinking = false;
		if (left < life / 6)
			prev_delay = delay;
		t += delay;
	}
	return r;
}

int main(void)
{
	/* The steps without a certificate to keep alive: 1, 10, 100 × retry_interval, then a day. */
	CHECK(acme_retry_delay(1, 60, false, 0, 0) == 60);
	CHECK(acme_retry_delay(2, 60, false, 0, 0) == 600);
	CHECK(acme_retry_delay(3, 60, false, 0, 0) == 6000);
	CHECK(acme_retry_delay(4, 60, false, 0, 0) == ACME_BACKOFF_CAP);
	CHECK(acme_retry_delay(1, 60, true, 0, 0) == ACME_BACKOFF_CAP);
	CHECK(acme_retry_delay(2, 86400, false, 0, 0) == ACME_BACKOFF_CAP);
	/* With one: a sixth of the time left at most, retry_interval at least. */
	CHECK(acme_retry_delay(4, 60, false, L, 30 * H) == 5 * H);
	CHECK(acme_retry_delay(1, 60, true, L, 30 * H) == 5 * H);
	CHECK(acme_retry_delay(4, 60, false, L, 60) == 60);
	CHECK(acme_retry_delay(4, 60, false, L, 60 * DAY) == ACME_BACKOFF_CAP);
	CHECK(acme_retry_delay(1, 60, false, L, 60 * DAY) == 60);
	/* The longest of them, whatever the failures. */
	CHECK(acme_retry_delay_max(60, 0, 0) == ACME_BACKOFF_CAP);
	CHECK(acme_retry_delay_max(60, L, 30 * H) == 5 * H);
	CHECK(acme_retry_delay_max(60, L, 60) == 60);
	CHECK(acme_retry_delay_max(60, L, 60 * DAY) == ACME_BACKOFF_CAP);
	/* A wait read back from status.json: bounded as a live one, jitter
	 * included. Without a certificate to keep alive, by the day cap ... */
	CHECK(acme_retry_delay_stored(3 * DAY, 60, 0, 0) == ACME_BACKOFF_CAP * 1.1);
	CHECK(acme_retry_delay_stored(5 * H, 60, 0, 0) == 5 * H);
	CHECK(acme_retry_delay_stored(-100, 60, 0, 0) == 0);
	/* ... and with one, by a sixth of what it has left: a day-long wait
	 * saved when the certificate had days to go is cut once it has 30 h. */
	CHECK(acme_retry_delay_stored(DAY, 60, L, 30 * H) == 5 * H * 1.1);
	CHECK(acme_retry_delay_stored(DAY, 60, L, 58) == 60 * 1.1);
	CHECK(acme_retry_delay_stored(23 * H, 60, L, 30 * DAY) == 23 * H);
	/* Never shorter than what a live failure would have waited with the
	 * same time left: a restart does not bring an attempt forward. */
	static const double lefts[] = { 0, 58, 40 * 60, 30 * H, 6 * DAY, 60 * DAY };
	for (size_t i = 0; i < sizeof(lefts) / sizeof(lefts[0]); i++)
		for (int failures = 1; failures <= 5; failures++)
			for (int stubborn = 0; stubborn < 2; stubborn++) {
				double live = acme_retry_delay(failures, 60, stubborn, L, lefts[i]);
				CHECK(acme_retry_delay_stored(live * 1.1, 60, L, lefts[i]) == live * 1.1);
				CHECK(acme_retry_delay_stored(live * 0.9, 60, L, lefts[i]) == live * 0.9);
			}
	/* Expired (or nearly): the wait is capped by a sixth of the lifetime,
	 * never below retry_interval, so a short-lived certificate is not left
	 * a day between two attempts once it has lapsed. */
	CHECK(acme_retry_delay(4, 60, false, DAY, -H) == 4 * H);      /* a 24 h one, an hour past */
	CHECK(acme_retry_delay(1, 60, true, DAY, -H) == 4 * H);       /* stubborn alike */
	CHECK(acme_retry_delay(4, 60, false, DAY, 0) == 4 * H);       /* the very moment it lapses */
	CHECK(acme_retry_delay(4, 60, false, 6 * DAY, -DAY) == DAY);  /* a sixth is a day already */
	CHECK(acme_retry_delay(4, 60, false, L, -DAY) == ACME_BACKOFF_CAP);
	CHECK(acme_retry_delay(4, 1, false, 60, -5) == 10);           /* a 60 s one (the tests' Pebble) */
	CHECK(acme_retry_delay(4, 60, false, 120, -5) == 60);         /* never below retry_interval */
	CHECK(acme_retry_delay(1, 60, false, DAY, -H) == 60);         /* the early steps stay as they are */
	CHECK(acme_retry_delay(4, 60, false, DAY, H) == 600);         /* nearly expired: a sixth of what is left */
	CHECK(acme_retry_delay(4, 60, false, DAY, 2 * DAY) == 4 * H); /* more left than a lifetime: the lifetime */
	CHECK(acme_retry_delay_max(60, DAY, -H) == 4 * H);
	CHECK(acme_retry_delay_stored(DAY, 60, DAY, -H) == 4 * H * 1.1);
	CHECK(acme_retry_delay_stored(DAY, 1, 60, -5) == 10 * 1.1);
	/* The live backoff and a wait read back agree, expired or not, for any
	 * lifetime: the one bound (acme_retry_delay_max). */
	static const double lifes[] = { 0, 60, H, DAY, 6 * DAY, L };
	static const double when[] = { -2 * L, -DAY, -H, -1, 0, 1, H, DAY, 2 * L };
	for (size_t i = 0; i < sizeof(lifes) / sizeof(lifes[0]); i++)
		for (size_t k = 0; k < sizeof(when) / sizeof(when[0]); k++) {
			double most = acme_retry_delay_max(1, lifes[i], when[k]);
			CHECK(most >= 1 && most <= ACME_BACKOFF_CAP);
			if (lifes[i] > 0 && when[k] <= 0)
				CHECK(most == (lifes[i] / 6 > 1 ? lifes[i] / 6 : 1) ||
				      (lifes[i] / 6 > ACME_BACKOFF_CAP && most == ACME_BACKOFF_CAP));
			for (int failures = 1; failures <= 5; failures++) {
				double live = acme_retry_delay(failures, 1, false, lifes[i], when[k]);
				CHECK(live <= most);
				CHECK(acme_retry_delay_stored(live * 1.1, 1, lifes[i], when[k]) == live * 1.1);
				CHECK(acme_retry_delay_stored(1e9, 1, lifes[i], when[k]) == most * 1.1);
			}
		}
	/* Only in the last sixth; then every 20 h (or an eighth of the lifetime). */
	CHECK(!acme_alarm_due(90 * DAY, 16 * DAY, 1e18, 60));
	CHECK(acme_alarm_due(90 * DAY, 14 * DAY, 1e18, 60));
	CHECK(acme_alarm_due(90 * DAY, 14 * DAY, 20 * H, DAY));
	CHECK(!acme_alarm_due(90 * DAY, 14 * DAY, 19 * H, H));
	CHECK(acme_alarm_due(90 * DAY, 14 * DAY, 19 * H, 16 * H)); /* the next try would be too late */
	CHECK(!acme_alarm_due(90 * DAY, 14 * DAY, 9 * H, DAY));
	CHECK(acme_alarm_due(40, 6, 5, 1));
	CHECK(!acme_alarm_due(40, 6, 4, 1));
	/* A day-long Retry-After for a 24 h certificate with 12 h left: the
	 * next attempt comes after expiry, so this failure alarms, sixth or not. */
	CHECK(acme_alarm_due(DAY, 12 * H, 1e18, DAY));
	CHECK(!acme_alarm_due(DAY, 12 * H, 1e18, H));
	CHECK(!acme_alarm_due(DAY, 12 * H, 1 * H, DAY)); /* an alarm came an hour ago */

	static const double lives[] = { 160 * H, 6 * DAY, 45 * DAY, 90 * DAY, 40 };
	static const double jitters[] = { 0.9, 1.0, 1.1 };
	for (size_t i = 0; i < sizeof(lives) / sizeof(lives[0]); i++) {
		double life = lives[i], ri = life < 3600 ? 1 : 60;
		for (size_t j = 0; j < 3; j++) {
			for (int stubborn = 0; stubborn < 2; stubborn++) {
				run_t r = play(life, ri, stubborn, jitters[j]);
				/* Several attempts in the last sixth, and still some near the end. */
				CHECK(r.attempts_before_expiry >= 8);
				CHECK(r.last_try_left <= life / 36 + ri);
				/* The first alarm comes soon after the last sixth begins, long
				 * before expiry (for 160 h: before, at about 6 h left). */
				CHECK(r.first_alarm_left >= life / 6 * 0.8);
				CHECK(r.alarms >= 2);
				CHECK(r.shrinking);
				/* Daily means daily (with the attempts' jitter): no day skipped, none twice. */
				double every = life / 8 < 20 * H ? life / 8 : 20 * H;
				double spacing = ACME_BACKOFF_CAP * jitters[j]; /* the longest between two attempts */
				CHECK(r.alarms < 2 || r.max_gap <= (1.2 * every > spacing ? 1.2 * every : spacing) + 1);
				CHECK(r.min_gap >= every / 2);
			}
		}
	}
	/* The case that prompted this: 160 h, the CA failing from the first attempt. */
	run_t r = play(160 * H, 60, false, 1.1);
	CHECK(r.first_alarm_left > 20 * H);
	CHECK(r.attempts_before_expiry >= 15);
	return check_report();
}
