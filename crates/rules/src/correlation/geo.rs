//! `geo_velocity`: each located event of a group against the group's previous located event
//! (at most one timespan before it): a finding when they are more than `min_distance_km`
//! apart and the implied speed exceeds `max_speed_kmh`.

use super::StateMap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use skein_model::Finding;

use super::episode::Episode;
use super::{Correlation, Kind, Place, Signal};

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6_371.008_8;

/// Great-circle distance in km (haversine) between two (latitude, longitude) pairs.
pub fn distance_km((a_lat, a_lon): (f64, f64), (b_lat, b_lon): (f64, f64)) -> f64 {
    let (la1, la2) = (a_lat.to_radians(), b_lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b_lon - a_lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeoState {
    last: StateMap<String, Signal>,
}

fn place_json(s: &Signal, p: &Place<'_>) -> Value {
    json!({
        "ip": p.ip(),
        "city": p.city(),
        "country": p.country(),
        "latitude": p.lat,
        "longitude": p.lon,
        "time": s.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl GeoState {
    pub fn process(&mut self, rule: &Correlation, s: Signal, out: &mut Vec<Finding>) {
        let Kind::GeoVelocity {
            max_speed_kmh,
            min_distance_km,
        } = rule.def.kind
        else {
            return;
        };
        // Coordinates only: a place's texts are read only into a finding.
        let Some(here) = s.coordinates() else { return };
        // The group is cloned only for a new group: most sign-ins replace their user's last.
        let Some(prev) = self.last.get_mut(s.group()) else {
            self.last.insert(s.group().to_string(), s);
            return;
        };
        let elapsed = s.time - prev.time;
        if let (Some(there), true) = (prev.coordinates(), elapsed <= rule.def.timespan.duration()) {
            let km = distance_km(there, here);
            // Events in the same instant count as one second apart.
            let hours = (elapsed.num_milliseconds().max(1_000) as f64) / 3_600_000.0;
            let speed = km / hours;
            // The places, read only for a finding (a signal has coordinates only with its
            // place: both are there).
            let places = || Some((prev.place()?, s.place()?));
            if let Some((there, here)) = (km > min_distance_km && speed > max_speed_kmh)
                .then(places)
                .flatten()
            {
                let mut ep = Episode::new(s.group().to_string(), prev);
                ep.anchor = format!("{},{}", prev.anchor(), s.anchor());
                ep.add(prev);
                ep.add(&s);
                ep.fields
                    .insert("distance_km".into(), Value::from(round1(km)));
                ep.fields
                    .insert("speed_kmh".into(), Value::from(round1(speed)));
                ep.fields.insert(
                    "hours".into(),
                    Value::from((hours * 1000.0).round() / 1000.0),
                );
                ep.fields.insert("from".into(), place_json(prev, &there));
                ep.fields.insert("to".into(), place_json(&s, &here));
                out.push(ep.finding(rule));
            }
        }
        *prev = s;
    }

    pub fn sweep(&mut self, rule: &Correlation, now: DateTime<Utc>) {
        let cutoff = now - rule.def.timespan.duration();
        self.last.retain(|_, s| s.time >= cutoff);
    }

    pub fn size(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        /// A place gives back its texts, and is saved as the five fields it always had.
        #[test]
        fn places_keep_their_texts(
            ip in prop::option::of("[0-9a-f.:]{0,12}"),
            city in prop::option::of(".{0,8}"),
            country in prop::option::of(".{0,3}"),
        ) {
            let p = Place::new(1.5, -2.5, ip.as_deref(), city.as_deref(), country.as_deref());
            prop_assert_eq!(p.ip(), ip.as_deref());
            prop_assert_eq!(p.city(), city.as_deref());
            prop_assert_eq!(p.country(), country.as_deref());
            let json = serde_json::to_value(p).unwrap();
            prop_assert_eq!(
                &json,
                &serde_json::json!({
                    "lat": 1.5, "lon": -2.5, "ip": ip, "city": city, "country": country,
                })
            );
            let back: crate::correlation::packed::PlaceFields = serde_json::from_value(json).unwrap();
            prop_assert_eq!(back.as_place(), p);
            // Kept in a signal's bytes, the same place.
            let mut bytes = Vec::new();
            crate::correlation::packed::encode_place(&mut bytes, &p);
            prop_assert_eq!(crate::correlation::packed::decode_place(&bytes), Some(p));
            // Its coordinates read alone, the same.
            prop_assert_eq!(
                crate::correlation::packed::decode_coordinates(&bytes),
                Some((p.lat, p.lon))
            );
        }
    }

    #[test]
    fn distances_match_known_city_pairs() {
        let london = (51.5074, -0.1278);
        let paris = (48.8566, 2.3522);
        let sydney = (-33.8688, 151.2093);
        assert!((distance_km(london, paris) - 343.5).abs() < 2.0);
        assert!((distance_km(london, sydney) - 16_994.0).abs() < 30.0);
        assert_eq!(distance_km(london, london), 0.0);
    }
}
