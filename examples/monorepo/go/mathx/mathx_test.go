package mathx

import "testing"

func TestGCD(t *testing.T) {
	for _, c := range []struct{ a, b, want int }{{12, 18, 6}, {7, 5, 1}, {0, 9, 9}, {-4, 6, 2}} {
		if got := GCD(c.a, c.b); got != c.want {
			t.Errorf("GCD(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestLCM(t *testing.T) {
	for _, c := range []struct{ a, b, want int }{{4, 6, 12}, {0, 3, 0}, {-4, 6, 12}} {
		if got := LCM(c.a, c.b); got != c.want {
			t.Errorf("LCM(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
